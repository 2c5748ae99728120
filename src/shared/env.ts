/** Reading the handlers' configuration from the environment the CDK stack sets. */
import { settings } from './settings';

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** The low-stock threshold for items no row ever gave one (DEFAULT_THRESHOLD, else the setting). */
export function defaultThresholdFromEnv(): number {
  const raw = process.env[settings.env.defaultThreshold];
  if (raw === undefined || raw === '') return settings.inventory.defaultThreshold;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${settings.env.defaultThreshold} must be a whole number ≥ 0, got '${raw}'`);
  }
  return value;
}

/** Whether uploads are store-scoped: STORE_SCOPED_UPLOADS (`true` or `false`), else the setting. */
export function storeScopedUploadsFromEnv(environment: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const raw = environment[settings.env.storeScopedUploads];
  if (raw === undefined || raw === '') return settings.uploads.storeScoped;
  if (raw !== 'true' && raw !== 'false') throw new Error(`${settings.env.storeScopedUploads} must be true or false, got '${raw}'`);
  return raw === 'true';
}

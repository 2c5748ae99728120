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

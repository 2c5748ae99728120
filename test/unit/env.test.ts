/** The handlers' configuration as the stack sets it in their environment. */
import { storeScopedUploadsFromEnv } from '../../src/shared/env';
import { settings } from '../../src/shared/settings';

describe('storeScopedUploadsFromEnv', () => {
  const name = settings.env.storeScopedUploads;

  test('true and false as the stack writes them; unset or empty is the setting’s default (off)', () => {
    expect(storeScopedUploadsFromEnv({ [name]: 'true' })).toBe(true);
    expect(storeScopedUploadsFromEnv({ [name]: 'false' })).toBe(false);
    expect(storeScopedUploadsFromEnv({})).toBe(false);
    expect(storeScopedUploadsFromEnv({ [name]: '' })).toBe(settings.uploads.storeScoped);
  });

  test('anything else is a configuration error naming the variable, not a guess', () => {
    for (const raw of ['TRUE', '1', 'yes']) expect(() => storeScopedUploadsFromEnv({ [name]: raw })).toThrow(`${name} must be true or false, got '${raw}'`);
  });
});

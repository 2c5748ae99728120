import { resourceNames, settings, visibilityTimeoutSeconds } from '../../src/shared/settings';

test('queue visibility timeouts follow the six-times-the-consumer rule', () => {
  expect(visibilityTimeoutSeconds(settings.writer.timeoutSeconds)).toBe(360);
});

test('resource names carry the stage', () => {
  expect(resourceNames('dev').table).toBe('inventory-pipeline-dev-inventory');
});

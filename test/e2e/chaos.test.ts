/**
 * The chaos matrix in small (npm run chaos runs the full one): the load-test scenario under every
 * kind of injected fault at once, and under a throttling burst, verified against the scenario's
 * independent expectation. Faults are injected below the handlers (SDK request path, event sources).
 */
import { rm } from 'node:fs/promises';
import { runChaos, type ChaosSpec } from '../../chaos/chaos';
import { tempDirectory } from './model';

const dataDirectory = tempDirectory();

afterAll(async () => {
  await rm(dataDirectory, { recursive: true, force: true });
});

const specs: ChaosSpec[] = [
  { name: 'everything at once', faults: 'throttle=0.3,duplicate=1,crash=0.2,publish-fail=0.3,seed=3' },
  { name: 'throttling burst', faults: 'throttle-burst=3,seed=3' },
];

test('with faults injected (throttling, duplicate deliveries, crashes, failed publishes; a throttling burst), nothing is lost, applied twice or dead-lettered', async () => {
  const [everything, burst] = await runChaos({ rows: 300, files: 2, seed: 5, dataDirectory, specs });

  // The faults really were injected: a run without them would prove nothing.
  expect(everything!.injected.throttled).toBeGreaterThan(0);
  expect(everything!.injected.duplicated).toBeGreaterThan(0);
  expect(everything!.injected.crashed).toBeGreaterThan(0);
  expect(everything!.injected.publishFailed).toBeGreaterThan(0);
  expect(burst!.injected.throttled).toBeGreaterThan(0);

  for (const result of [everything!, burst!]) {
    expect({ spec: result.name, mismatches: result.mismatches }).toEqual({ spec: result.name, mismatches: [] });
    expect(result).toMatchObject({ rowsLost: 0, rowsAppliedTwice: 0, alertsLost: 0, deadLettered: 0, verdict: 'pass' });
  }
});

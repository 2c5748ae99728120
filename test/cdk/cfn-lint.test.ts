/**
 * cfn-lint (pinned in requirements.txt, installed into .venv) on the synthesized templates: no
 * errors and no warnings, so that anyone linting the template finds nothing to explain.
 */
import { join } from 'node:path';
import { ensurePythonTools } from '../../src/local/venv';
import { cfnLint, describeFinding } from '../support/cfn-lint';
import { synthesizePipeline, type SynthesizedPipeline } from './synth';

let pipelines: SynthesizedPipeline[] = [];
beforeAll(() => {
  ensurePythonTools();
  pipelines = [
    ...['dev', 'prod'].map((stage) => synthesizePipeline({ context: { stage, alertEmail: 'ops@example.com' } })),
    // Every value set: warm throughput, on-demand maximum, reserved concurrency, store-scoped uploads (the uploader policy).
    synthesizePipeline({ context: { stage: 'prod', tableWarmWriteUnits: '20000', tableMaxWriteUnits: '30000', reserveConcurrency: 'true', storeScopedUploads: 'true' } }),
  ];
});
afterAll(() => {
  for (const pipeline of pipelines) pipeline.dispose();
});

test('cfn-lint finds nothing in the dev and prod templates, nor in prod with every capacity and upload value set: no errors, no warnings', () => {
  const { status, findings } = cfnLint(pipelines.map((pipeline) => join(pipeline.outdir, pipeline.stack.templateFile)));
  expect(findings.filter((finding) => finding.Level !== 'Informational').map(describeFinding)).toEqual([]);
  expect(status & (2 | 4)).toBe(0);
});

/**
 * Fault injection for the local runtime (`inventory local --faults SPEC`): what a big night on AWS
 * brings and moto never produces, injected where AWS produces it, so the handlers' own retry paths
 * run and no handler knows:
 * - throttling and publish failures in the SDK's request path: a throttled UpdateItem attempt gets
 *   a real HTTP 400 ProvisionedThroughputExceededException response, which the SDK deserializes,
 *   classifies and retries like DynamoDB's own; a failed alert is a `Failed` entry of a real
 *   PublishBatch response (the entry never reaches SNS);
 * - duplicate deliveries and crashes in the event sources: a duplicated message is delivered again
 *   in a later batch; a crashed invocation stops making AWS calls part-way through (the ones before
 *   went through) and its batch is retried as Lambda retries it.
 *
 * Each decision is drawn from a hash of the seed, the fault, what it hits (the item written, the
 * alert, the message, the batch — by content that does not change from run to run, never by upload
 * times or ids) and how often that was tried: the same seed injects the same faults into the same
 * files, however the concurrent work interleaves.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { HttpResponse } from '@smithy/core/transport';
import type { Message } from '@aws-sdk/client-sqs';
import type { PublishBatchCommandInput, PublishBatchCommandOutput } from '@aws-sdk/client-sns';

/** What `--faults` asks for; probabilities are per attempt, entry, message or invocation. */
export interface FaultSpec {
  throttle: number;
  throttleBurstSeconds: number;
  duplicate: number;
  crash: number;
  publishFail: number;
  seed: number;
}

/** How many of each fault were injected (the `faults` object of `inventory local --json`). */
export interface FaultCounts {
  throttled: number;
  duplicated: number;
  crashed: number;
  publishFailed: number;
}

export class FaultSpecError extends Error {
  override name = 'FaultSpecError';
}

type Kind = 'probability' | 'certainty-allowed' | 'seconds' | 'seed';
const faultNames: Record<string, { key: keyof FaultSpec; kind: Kind }> = {
  throttle: { key: 'throttle', kind: 'probability' },
  'throttle-burst': { key: 'throttleBurstSeconds', kind: 'seconds' },
  duplicate: { key: 'duplicate', kind: 'certainty-allowed' },
  crash: { key: 'crash', kind: 'probability' },
  'publish-fail': { key: 'publishFail', kind: 'probability' },
  seed: { key: 'seed', kind: 'seed' },
};

export const noFaults: FaultSpec = { throttle: 0, throttleBurstSeconds: 0, duplicate: 0, crash: 0, publishFail: 0, seed: 1 };

/**
 * Parses `throttle=0.2,duplicate=0.3,crash=0.05,publish-fail=0.1,seed=7`. Throttling, crashes and
 * publish failures must stay below certainty (at 1 nothing could ever get through); every message
 * may be duplicated.
 */
export function parseFaultSpec(text: string): FaultSpec {
  const spec: FaultSpec = { ...noFaults };
  const seen = new Set<string>();
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [name = '', raw, ...rest] = part.split('=');
    const fault = faultNames[name.trim()];
    if (fault === undefined) {
      throw new FaultSpecError(`--faults: '${name.trim()}' is not a fault; use ${Object.keys(faultNames).join(', ')} (e.g. throttle=0.2,seed=7)`);
    }
    if (seen.has(name.trim())) throw new FaultSpecError(`--faults: ${name.trim()} is given twice`);
    seen.add(name.trim());
    const value = raw === undefined || rest.length > 0 ? Number.NaN : Number(raw.trim() === '' ? Number.NaN : raw);
    const valid =
      fault.kind === 'probability' ? value >= 0 && value < 1
      : fault.kind === 'certainty-allowed' ? value >= 0 && value <= 1
      : fault.kind === 'seconds' ? value >= 0 && Number.isFinite(value)
      : Number.isSafeInteger(value);
    if (!valid) {
      const expected =
        fault.kind === 'probability' ? 'a probability from 0 up to (not including) 1'
        : fault.kind === 'certainty-allowed' ? 'a probability from 0 to 1'
        : fault.kind === 'seconds' ? 'a number of seconds ≥ 0'
        : 'a whole number';
      throw new FaultSpecError(`--faults: ${part} is not valid; ${name.trim()} takes ${expected}`);
    }
    spec[fault.key] = value;
  }
  return spec;
}

/** Thrown at an AWS call of an invocation that has crashed: the call never reaches AWS. */
export class InvocationCrash extends Error {
  override name = 'InvocationCrash';
}

interface Invocation {
  /** The call that crashes the invocation (1-based); calls before it go through. */
  crashAt: number;
  calls: number;
}

/** Any AWS SDK v3 client: the injector adds middleware to its stack. */
interface InstrumentableClient {
  middlewareStack: object;
}

type Handler = (args: { input: unknown; request?: unknown }) => Promise<{ output: unknown; response?: unknown }>;
type Middleware = (next: Handler, context: { commandName?: string }) => Handler;
type Placement = { step: 'initialize' | 'deserialize'; name: string; priority: 'high' | 'low' };

/** The stack's `add`, typed for what this module adds (the clients' own types differ per service). */
function addMiddleware(client: InstrumentableClient, middleware: Middleware, placement: Placement): void {
  (client.middlewareStack as { add(middleware: Middleware, placement: Placement): void }).add(middleware, placement);
}

/** The attribute that marks a duplicated message's copy, so the copy is not duplicated again. */
export const duplicateOfAttribute = 'local.duplicateOf';

/** A DynamoDB throttling answer, as DynamoDB's JSON protocol sends it. */
function throttlingResponse(): HttpResponse {
  const body = JSON.stringify({
    __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message: 'The level of configured provisioned throughput for the table was exceeded (injected by --faults).',
  });
  return new HttpResponse({
    statusCode: 400,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'local-fault-throttle' },
    body: Readable.from([Buffer.from(body)]),
  });
}

/** Which item an UpdateItem writes, and how (count or threshold): the same write on every attempt and run. */
function updateIdentity(body: unknown): string {
  if (typeof body !== 'string') return '';
  try {
    const request = JSON.parse(body) as { Key?: unknown; UpdateExpression?: string };
    return JSON.stringify([request.Key, request.UpdateExpression]);
  } catch {
    return body;
  }
}

/** An alert by what it says, not by its id (which carries the upload's time). */
function alertIdentity(message: string | undefined): string {
  try {
    const alert = JSON.parse(message ?? '') as { type?: string; store?: string; product?: string; count?: number };
    return JSON.stringify([alert.type, alert.store, alert.product, alert.count]);
  } catch {
    return message ?? '';
  }
}

/**
 * A message by what it carries: a row batch by its upload's key and lines, an S3 notification by
 * the objects it announces — not by the stamps, times and ids that differ on every run.
 */
function messageIdentity(body: string): string {
  try {
    const parsed = JSON.parse(body) as {
      upload?: { key?: string };
      first?: number;
      last?: number;
      deferrals?: number;
      Records?: { s3?: { object?: { key?: string; eTag?: string } } }[];
    };
    if (parsed.upload?.key !== undefined) return `rows\u0000${parsed.upload.key}\u0000${parsed.first}-${parsed.last}\u0000${parsed.deferrals ?? 0}`;
    if (Array.isArray(parsed.Records)) return `upload\u0000${parsed.Records.map((r) => `${r.s3?.object?.key}/${r.s3?.object?.eTag}`).join('\u0000')}`;
  } catch {
    // Not JSON: the body itself is all there is.
  }
  return body;
}

/** The identity of a batch for crash decisions: its messages, or its stream records' changes. */
export function batchIdentity(event: { Records: readonly unknown[] }): string {
  const hash = createHash('sha256');
  for (const record of event.Records as { body?: string; eventName?: string; dynamodb?: { Keys?: unknown; NewImage?: { count?: unknown } } }[]) {
    const identity = record.body !== undefined ? messageIdentity(record.body) : JSON.stringify([record.eventName, record.dynamodb?.Keys, record.dynamodb?.NewImage?.count]);
    hash.update(identity).update('\u0000');
  }
  return hash.digest('hex');
}

export class FaultInjector {
  readonly counts: FaultCounts = { throttled: 0, duplicated: 0, crashed: 0, publishFailed: 0 };
  private readonly attempts = new Map<string, number>();
  private readonly invocation = new AsyncLocalStorage<Invocation>();
  private burstUntil = 0;

  constructor(readonly spec: FaultSpec) {}

  /** A draw in [0, 1) for the n-th try of `identity` under `fault`, and a second one for details. */
  private draw(fault: string, identity: string): [number, number] {
    const key = `${fault}\u0000${identity}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const digest = createHash('sha256').update(`${this.spec.seed}\u0000${key}\u0000${attempt}`).digest();
    return [digest.readUInt32BE(0) / 2 ** 32, digest.readUInt32BE(4) / 2 ** 32];
  }

  private chance(fault: string, identity: string, probability: number): boolean {
    return probability > 0 && this.draw(fault, identity)[0] < probability;
  }

  /** A file begins: a throttling burst (`throttle-burst=S`) starts now. */
  startFile(now = Date.now()): void {
    this.burstUntil = now + this.spec.throttleBurstSeconds * 1000;
  }

  /**
   * Makes the client's UpdateItem attempts throttled as the spec says. Below the SDK's retry, so
   * each attempt — first or retry — is judged on its own, as DynamoDB judges it.
   */
  throttleUpdates(client: InstrumentableClient): void {
    if (this.spec.throttle === 0 && this.spec.throttleBurstSeconds === 0) return;
    const middleware: Middleware = (next, context) => async (args) => {
      if (context.commandName !== 'UpdateItemCommand') return next(args);
      const inBurst = Date.now() < this.burstUntil;
      const body = (args.request as { body?: unknown } | undefined)?.body;
      if (!inBurst && !this.chance('throttle', updateIdentity(body), this.spec.throttle)) return next(args);
      this.counts.throttled += 1;
      return { output: undefined, response: throttlingResponse() };
    };
    // Inside the deserializer, so the SDK turns the answer into its own exception.
    addMiddleware(client, middleware, { step: 'deserialize', name: 'localFaultThrottle', priority: 'low' });
  }

  /** Makes entries of the client's PublishBatch calls fail as the spec says (`Failed` entries, not sent). */
  failPublishes(client: InstrumentableClient): void {
    if (this.spec.publishFail === 0) return;
    const middleware: Middleware = (next, context) => async (args) => {
      if (context.commandName !== 'PublishBatchCommand') return next(args);
      const input = args.input as PublishBatchCommandInput;
      const entries = input.PublishBatchRequestEntries ?? [];
      const failing = new Set(entries.filter((entry) => this.chance('publish-fail', alertIdentity(entry.Message), this.spec.publishFail)));
      if (failing.size === 0) return next(args);
      this.counts.publishFailed += failing.size;
      const injected = [...failing].map((entry) => ({ Id: entry.Id, Code: 'InternalFailure', SenderFault: false, Message: 'injected by --faults publish-fail' }));
      const sent = entries.filter((entry) => !failing.has(entry));
      if (sent.length === 0) return { output: { $metadata: { httpStatusCode: 200 }, Successful: [], Failed: injected } satisfies PublishBatchCommandOutput };
      const result = await next({ ...args, input: { ...input, PublishBatchRequestEntries: sent } });
      const output = result.output as PublishBatchCommandOutput;
      return { ...result, output: { ...output, Failed: [...(output.Failed ?? []), ...injected] } };
    };
    addMiddleware(client, middleware, { step: 'initialize', name: 'localFaultPublishFail', priority: 'low' });
  }

  /** Lets crashed invocations' calls fail on this client (before the SDK does anything with them). */
  crashableCalls(client: InstrumentableClient): void {
    if (this.spec.crash === 0) return;
    const middleware: Middleware = (next) => async (args) => {
      const invocation = this.invocation.getStore();
      if (invocation !== undefined) {
        invocation.calls += 1;
        if (invocation.calls >= invocation.crashAt) throw new InvocationCrash('the invocation crashed (injected by --faults crash)');
      }
      return next(args);
    };
    addMiddleware(client, middleware, { step: 'initialize', name: 'localFaultCrash', priority: 'high' });
  }

  /**
   * Runs one invocation, crashing it with the spec's probability: from a call between its 2nd and
   * 9th on, its AWS calls fail; if it makes fewer, it crashes after its last one, before it returns.
   * Either way its result is lost and the event source retries the batch, as Lambda does.
   */
  async invoke<R>(functionName: string, batchIdentity: string, run: () => Promise<R>): Promise<R> {
    const [crashDraw, pointDraw] = this.spec.crash > 0 ? this.draw('crash', `${functionName}\u0000${batchIdentity}`) : [1, 0];
    if (crashDraw >= this.spec.crash) return run();
    this.counts.crashed += 1;
    const invocation: Invocation = { crashAt: 2 + Math.floor(pointDraw * 8), calls: 0 };
    await this.invocation.run(invocation, run).catch(() => undefined);
    throw new InvocationCrash(`${functionName} crashed after ${Math.min(invocation.calls, invocation.crashAt - 1)} AWS call(s) (injected by --faults crash)`);
  }

  /** Whether a received message is delivered a second time (never a copy that already is one). */
  duplicates(queue: string, message: Message): boolean {
    if (message.MessageAttributes?.[duplicateOfAttribute] !== undefined) return false;
    if (!this.chance('duplicate', `${queue}\u0000${messageIdentity(message.Body ?? '')}`, this.spec.duplicate)) return false;
    this.counts.duplicated += 1;
    return true;
  }
}

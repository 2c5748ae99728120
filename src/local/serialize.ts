/**
 * What real AWS guarantees and moto server does not, restored on the local runtime's side.
 *
 * moto serves requests on parallel threads without locking its queues, items or streams:
 * concurrent SQS deletes and sends can lose or resurrect messages, concurrent receives can hand one
 * message to two pollers, two conditional UpdateItems on one item can both pass their condition,
 * and two writes at once can get the same stream sequence number — after which moto's shard
 * iterator returns the same record forever. On AWS none of this happens, so the handlers stay as
 * they are: the local runtime makes its SQS requests one at a time and its table writes one at a
 * time. (moto serves one request at a time under Python's GIL anyway; little is lost.)
 *
 * The turn is taken per HTTP attempt, inside the SDK's retry loop: a request waiting out a
 * retry's backoff (a throttled write, say) does not hold up everyone else's.
 */
import { createLimiter } from '../shared/concurrency';

/** Makes the client send one request at a time (any AWS SDK v3 client). */
export function oneRequestAtATime(client: { middlewareStack: object }): void {
  const inTurn = createLimiter(1);
  type Handler = (args: unknown) => Promise<unknown>;
  (client.middlewareStack as { add(middleware: (next: Handler) => Handler, options: { step: string; priority: string; name: string }): void }).add(
    (next) => (args) => inTurn(() => next(args)),
    { step: 'finalizeRequest', priority: 'low', name: 'localOneRequestAtATime' },
  );
}

/** A fetch parked in a batch, with how to answer it. */
export interface Batched<Answer> {
  resolve?: (answer: Answer) => void;
  reject?: (error: unknown) => void;
}

/** Sends one batch of fetches of one request to one subgraph, answering each member. */
export type SendBatch<Member> = (request: object, members: readonly Member[]) => Promise<void>;

export interface FetchWaves {
  /** A subgraph call of `request` started; call the function returned when it is over. */
  begin(request: object): () => void;
  /**
   * Parks an entity fetch of `request` in its batch for one subgraph (`subgraph` names the batch;
   * `send` sends it) until every call the request has in flight is parked; resolves with the
   * fetch's own answer. A `final` fetch (nothing in the plan waits for it) stays parked while
   * batches with fetches that others wait for can leave.
   */
  park<Member extends Batched<Answer>, Answer>(request: object, subgraph: object, member: Member, send: SendBatch<Member>, final?: boolean): Promise<Answer>;
  /** Requests with calls in flight (tests: nothing is left behind). */
  readonly tracked: number;
}

/** Most fetches in one batch: a full batch leaves at once (a bound on the merged operation and its answer). */
export const MAX_BATCH_FETCHES = 16;

interface Batch {
  readonly members: Batched<unknown>[];
  readonly send: SendBatch<Batched<unknown>>;
  /** A later fetch of the plan waits for one of its members. */
  awaited: boolean;
}

interface RequestCalls {
  /** Subgraph calls begun and not over, parked ones included. */
  active: number;
  /** Of those, the ones parked in a batch. */
  parked: number;
  /** Open batches, by subgraph. */
  readonly batches: Map<object, Batch>;
  checking: boolean;
}

/**
 * Entity fetches go out in waves. The planner runs a plan's branches in parallel, and fetches of one
 * subgraph at several paths start at different moments: the products of a user's reviews when the
 * reviews arrive, the products of the top products' authors' reviews when the authors arrive. A
 * request's entity fetches are parked until each call it has in flight is parked too (the request
 * can make no progress without them); then every batch leaves, one call per subgraph. A request thus
 * makes one call per subgraph per level of its plan, wherever the fetches sit in the plan's tree,
 * at the price of a branch waiting, at most, for its slowest sibling's call (bounded by the
 * subgraph timeout). Root fetches and anything not parked go out at once and are waited for.
 *
 * Fetches nothing waits for (final: the last step of their branch) are held back while any batch
 * another fetch waits for can leave, and leave together at the end: one call per subgraph for all
 * of them, at the price of one more call's time on the request's critical path.
 *
 * The check runs after the I/O callbacks of the current turn of the event loop (setImmediate), so
 * that fetches @apollo/gateway starts on the answers that arrived in that turn are parked first.
 */
export function createFetchWaves(): FetchWaves {
  const requests = new Map<object, RequestCalls>();

  const release = (request: object, calls: RequestCalls, subgraph: object, batch: Batch) => {
    calls.batches.delete(subgraph);
    calls.parked -= batch.members.length;
    batch.send(request, batch.members).catch((error: unknown) => {
      for (const member of batch.members) member.reject?.(error);
    });
  };

  const check = (request: object, calls: RequestCalls) => {
    if (calls.checking) return;
    calls.checking = true;
    setImmediate(() => {
      calls.checking = false;
      if (calls.parked === 0 || calls.parked < calls.active) return;
      const batches = [...calls.batches];
      const awaited = batches.filter(([, batch]) => batch.awaited);
      for (const [subgraph, batch] of awaited.length > 0 ? awaited : batches) release(request, calls, subgraph, batch);
    });
  };

  const callsOf = (request: object): RequestCalls => {
    let calls = requests.get(request);
    if (!calls) requests.set(request, (calls = { active: 0, parked: 0, batches: new Map(), checking: false }));
    return calls;
  };

  return {
    begin(request) {
      const calls = callsOf(request);
      calls.active += 1;
      let over = false;
      return () => {
        if (over) return;
        over = true;
        calls.active -= 1;
        if (calls.active === 0 && calls.parked === 0) {
          if (requests.get(request) === calls) requests.delete(request);
          return;
        }
        check(request, calls);
      };
    },
    park<Member extends Batched<Answer>, Answer>(request: object, subgraph: object, member: Member, send: SendBatch<Member>, final = false) {
      const answer = new Promise<Answer>((resolve, reject) => {
        member.resolve = resolve;
        member.reject = reject;
      });
      const calls = callsOf(request);
      let batch = calls.batches.get(subgraph);
      if (!batch) calls.batches.set(subgraph, (batch = { members: [], send: send as SendBatch<Batched<unknown>>, awaited: false }));
      batch.members.push(member as Batched<unknown>);
      if (!final) batch.awaited = true;
      calls.parked += 1;
      if (batch.members.length >= MAX_BATCH_FETCHES) release(request, calls, subgraph, batch);
      else check(request, calls);
      return answer;
    },
    get tracked() {
      return requests.size;
    },
  };
}

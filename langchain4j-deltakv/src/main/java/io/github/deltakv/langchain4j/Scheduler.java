package io.github.deltakv.langchain4j;

import dev.langchain4j.exception.RateLimitException;

import io.github.deltakv.langchain4j.internal.LlamaNative;
import io.github.deltakv.langchain4j.internal.PrefixCache;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serving engine: one thread that owns the native context and serves every call on it, each as a sequence of the
 * context (continuous batching). Each loop it admits waiting calls whose prompt and longest answer fit in the
 * context's free cells, ends the runs their callers gave up, decodes one token of every running answer in one
 * llama_decode, and evaluates one bounded slice of one waiting prompt, so that running answers keep flowing while a
 * long prompt is read. A sequence keeps its tokens after its call (the next turn of that conversation reuses the
 * longest matching prefix); sequences that must make room are set aside in the prefix cache.
 *
 * <p>No caller's code runs on this thread: it sends each call's text and end as events to the calling thread
 * ({@link SequenceRequest}). Only this thread touches the native context.
 */
final class Scheduler implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(Scheduler.class);
    /** Conversations shorter than this are not worth setting aside. */
    private static final int MIN_TOKENS_TO_SET_ASIDE = 64;

    /** What the scheduler has done so far, for statistics and tests. */
    record Counts(int running, int waiting, long started, long decodeSteps, int largestStep, long tokensGenerated,
                  long decodeNanos, long promptTokens, long promptNanos, long firstTokens, long firstTokenNanos) {
    }

    /** A sequence of the context: what it holds, and the call running on it if any. */
    private static final class Slot {
        final int sequence;
        int[] tokens = new int[0];
        long lastUsed;

        SequenceRequest request;
        long run;
        AnswerText answer;
        int kept;
        boolean prefilled;
        int[] generated = new int[16];
        int generatedCount;

        Slot(int sequence) {
            this.sequence = sequence;
        }

        boolean busy() {
            return request != null;
        }

        /** Cells the sequence takes or may take: a running call's prompt and longest answer, else what it holds. */
        int cells() {
            return busy() ? request.cellsNeeded() : tokens.length;
        }

        void addGenerated(int token) {
            if (generatedCount == generated.length) {
                generated = Arrays.copyOf(generated, generatedCount * 2);
            }
            generated[generatedCount++] = token;
        }
    }

    private final long session;
    private final int contextSize;
    private final int batchSize;
    private final boolean evicting;
    private final PrefixCache prefixCache;
    private final int maxWaiting;
    private final Slot[] slots;
    private final java.util.function.Supplier<KvMemoryStats> memory;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<SequenceRequest> waiting = new ArrayDeque<>();
    private volatile boolean closing;
    private volatile KvMemoryStats lastMemory;

    private long clock;
    private int nextPrefill;
    private volatile long started;
    private volatile long decodeSteps;
    private volatile int largestStep;
    private volatile long tokensGenerated;
    private volatile long decodeNanos;
    private volatile long promptTokens;
    private volatile long promptNanos;
    private volatile long firstTokens;
    private volatile long firstTokenNanos;
    private volatile int running;

    Scheduler(long session, int contextSize, int batchSize, int sequences, boolean evicting, PrefixCache prefixCache,
              int maxWaiting, java.util.function.Supplier<KvMemoryStats> memory) {
        this.session = session;
        this.contextSize = contextSize;
        this.batchSize = batchSize;
        this.evicting = evicting;
        this.prefixCache = prefixCache;
        this.maxWaiting = maxWaiting;
        this.memory = memory;
        this.slots = new Slot[sequences];
        for (int i = 0; i < sequences; i++) {
            slots[i] = new Slot(i);
        }
        this.lastMemory = memory.get();
    }

    /** Queues a call (any thread); RateLimitException when maxWaiting calls already wait. */
    void submit(SequenceRequest request) {
        lock.lock();
        try {
            if (closing) {
                throw new IllegalStateException("this DeltaKV model is closed");
            }
            if (waiting.size() >= maxWaiting) {
                throw new RateLimitException("this model is busy: " + slots.length + " calls run and " + maxWaiting
                        + " wait (maxQueuedCalls); try again later");
            }
            waiting.add(request);
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Wakes the loop, e.g. after a cancellation (any thread). */
    void wake() {
        lock.lock();
        try {
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Asks the loop to end: every waiting and running call fails (any thread). */
    void close() {
        lock.lock();
        try {
            closing = true;
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    KvMemoryStats memory() {
        return lastMemory;
    }

    Counts counts() {
        lock.lock();
        try {
            return new Counts(running, waiting.size(), started, decodeSteps, largestStep, tokensGenerated, decodeNanos,
                    promptTokens, promptNanos, firstTokens, firstTokenNanos);
        } finally {
            lock.unlock();
        }
    }

    /** Frees the conversations set aside (once the loop has ended). */
    void freePrefixCache() {
        synchronized (prefixCache) {
            prefixCache.clear();
        }
    }

    PrefixCacheStats prefixCacheStats() {
        synchronized (prefixCache) {
            return prefixCache.stats();
        }
    }

    @Override
    public void run() {
        try {
            while (awaitWork()) {
                admit();
                endCancelled();
                decodeStep();
                prefillSlice();
            }
        } catch (RuntimeException | Error e) {
            LOG.error("the serving loop of this model failed: its calls fail and it takes no more", e);
        } finally {
            failAll();
        }
    }

    /** Waits until there is something to do; false once closing. */
    private boolean awaitWork() {
        lock.lock();
        try {
            while (!closing && waiting.isEmpty() && Arrays.stream(slots).noneMatch(Slot::busy)) {
                changed.awaitUninterruptibly();
            }
            return !closing;
        } finally {
            lock.unlock();
        }
    }

    /** Starts waiting calls, in arrival order, while a sequence and the cells for them are free. */
    private void admit() {
        while (true) {
            SequenceRequest request = firstWaiting();
            if (request == null) {
                return;
            }
            Slot slot = freeSlotFor(request.tokens);
            if (slot == null || !makeRoom(slot, request.cellsNeeded())) {
                return;
            }
            lock.lock();
            try {
                waiting.remove(request);
            } finally {
                lock.unlock();
            }
            start(slot, request);
        }
    }

    /** The first call that still waits; calls cancelled while waiting leave the queue, never having cost anything. */
    private SequenceRequest firstWaiting() {
        lock.lock();
        try {
            waiting.removeIf(r -> {
                if (r.isCancelled()) {
                    r.send(new SequenceRequest.Failed(new DeltaKvException("cancelled while waiting")));
                }
                return r.isCancelled();
            });
            return waiting.peek();
        } finally {
            lock.unlock();
        }
    }

    /**
     * An idle sequence for a prompt: the one whose conversation it continues (sharing at least half of what the
     * sequence holds; the longest such prefix), else an empty one, else the least recently used (its conversation is
     * set aside).
     */
    private Slot freeSlotFor(int[] tokens) {
        Slot continued = null;
        int longest = 0;
        Slot empty = null;
        Slot oldest = null;
        for (Slot s : slots) {
            if (s.busy()) {
                continue;
            }
            int shared = PrefixCache.commonPrefix(s.tokens, tokens);
            if (shared > longest && 2 * shared >= s.tokens.length) {
                continued = s;
                longest = shared;
            }
            if (s.tokens.length == 0 && empty == null) {
                empty = s;
            }
            if (oldest == null || s.lastUsed < oldest.lastUsed) {
                oldest = s;
            }
        }
        return continued != null ? continued : empty != null ? empty : oldest;
    }

    /**
     * Frees cells for a call on {@code slot} that needs {@code needed}: other idle sequences, least recently used
     * first, are set aside; false when the running calls leave too little (the call waits for one to end).
     */
    private boolean makeRoom(Slot slot, int needed) {
        while (true) {
            int used = 0;
            Slot oldestIdle = null;
            for (Slot s : slots) {
                if (s == slot) {
                    continue;
                }
                used += s.cells();
                if (!s.busy() && s.tokens.length > 0 && (oldestIdle == null || s.lastUsed < oldestIdle.lastUsed)) {
                    oldestIdle = s;
                }
            }
            if (used + needed <= contextSize) {
                return true;
            }
            if (oldestIdle == null) {
                return false;
            }
            setAside(oldestIdle);
        }
    }

    /** Keeps a sequence's state in the prefix cache (when worth it) and frees its cells. */
    private void setAside(Slot s) {
        if (prefixCache.enabled() && s.tokens.length >= MIN_TOKENS_TO_SET_ASIDE) {
            long size = LlamaNative.sequenceStateSize(session, s.sequence);
            boolean fits;
            synchronized (prefixCache) {
                fits = prefixCache.fits(size);
            }
            if (fits) { // copied only when it can be kept
                long state = LlamaNative.saveSequenceState(session, s.sequence);
                synchronized (prefixCache) {
                    prefixCache.put(s.tokens, state, size);
                }
            }
        }
        LlamaNative.clearSequence(session, s.sequence);
        s.tokens = new int[0];
    }

    /**
     * Runs a call on a sequence: when the prefix cache holds a longer prefix of its prompt than the sequence, that
     * state is restored first (the sequence's own set aside when it is mostly replaced); then the run begins, keeping
     * the shared prefix.
     */
    private void start(Slot slot, SequenceRequest request) {
        try {
            int keep = PrefixCache.commonPrefix(slot.tokens, request.tokens);
            if (!evicting && prefixCache.enabled()) {
                PrefixCache.Entry best;
                synchronized (prefixCache) {
                    best = prefixCache.takeBest(request.tokens, keep);
                }
                if ((best != null || keep < slot.tokens.length / 2) && slot.tokens.length >= MIN_TOKENS_TO_SET_ASIDE) {
                    setAside(slot);
                }
                if (best != null) {
                    slot.tokens = new int[0]; // unknown until the restore succeeds
                    try {
                        LlamaNative.restoreSequenceState(session, slot.sequence, best.state());
                    } finally {
                        LlamaNative.freeSequenceState(best.state());
                    }
                    slot.tokens = best.tokens();
                }
                keep = PrefixCache.commonPrefix(slot.tokens, request.tokens);
            }
            SamplingSettings p = request.sampling;
            // the repetition penalty looks back at most over the context (-1: all of it)
            int lastN = p.repeatLastN() < 0 ? contextSize : Math.min(p.repeatLastN(), contextSize);
            int[] ints = {p.topK(), lastN, request.answerLimit};
            slot.run = LlamaNative.beginRun(session, slot.sequence, request.tokens, evicting ? 0 : keep, p.floats(),
                    ints, p.seed(), request.chatCall == 0 ? p.grammar() : null, request.chatCall);
            slot.kept = evicting ? 0 : Math.min(keep, request.tokens.length - 1);
        } catch (RuntimeException e) {
            slot.tokens = new int[0];
            LlamaNative.clearSequence(session, slot.sequence);
            request.send(new SequenceRequest.Failed(e));
            return;
        }
        started++;
        running++;
        slot.request = request;
        slot.answer = new AnswerText(request.stops);
        slot.prefilled = false;
        slot.generatedCount = 0;
        request.send(new SequenceRequest.Admitted());
    }

    /** Ends the runs whose callers gave up: their answers leave the cache, their prompts stay. */
    private void endCancelled() {
        for (Slot s : slots) {
            if (s.busy() && s.request.isCancelled()) {
                finish(s, LlamaNative.FINISH_CANCELLED);
            }
        }
    }

    /** One token of every running answer, in one decode. */
    private void decodeStep() {
        List<Slot> step = new ArrayList<>();
        for (Slot s : slots) {
            if (s.busy() && s.prefilled) {
                step.add(s);
            }
        }
        if (step.isEmpty()) {
            return;
        }
        long[] runs = step.stream().mapToLong(s -> s.run).toArray();
        int[] out = new int[2 * runs.length];
        byte[][] pieces = new byte[runs.length][];
        int rc;
        long t0 = System.nanoTime();
        try {
            rc = LlamaNative.decodeRuns(session, runs, out, pieces);
        } catch (RuntimeException e) {
            for (Slot s : step) {
                fail(s, e.getMessage());
            }
            return;
        } finally {
            decodeNanos += System.nanoTime() - t0;
        }
        decodeSteps++;
        largestStep = Math.max(largestStep, runs.length);
        if (rc == 2 && closing) {
            return; // aborted by close(): the loop ends and fails every call as closed
        }
        if (rc != 0) {
            for (Slot s : step) {
                fail(s, "llama_decode failed while generating (code " + rc + ")");
            }
            return;
        }
        for (int i = 0; i < step.size(); i++) {
            deliver(step.get(i), out[2 * i], out[2 * i + 1], pieces[i]);
        }
    }

    /** One slice (a batch) of one waiting prompt, taking turns among them. */
    private void prefillSlice() {
        for (int k = 0; k < slots.length; k++) {
            Slot s = slots[(nextPrefill + k) % slots.length];
            if (!s.busy() || s.prefilled) {
                continue;
            }
            nextPrefill = (s.sequence + 1) % slots.length;
            int[] out = new int[2];
            byte[][] pieces = new byte[1][];
            int rc;
            long t0 = System.nanoTime();
            int before = LlamaNative.sequenceTokens(session, s.sequence);
            try {
                rc = LlamaNative.prefillRun(session, s.run, batchSize, out, pieces);
            } catch (RuntimeException e) {
                fail(s, e.getMessage());
                return;
            } finally {
                promptNanos += System.nanoTime() - t0;
            }
            if (rc == 2 && closing) {
                return; // aborted by close()
            }
            if (rc != 0) {
                fail(s, rc == 1 ? "no room left in the KV cache for the prompt (llama_decode code 1)"
                        : "llama_decode failed on the prompt (code " + rc + ")");
                return;
            }
            int total = s.request.tokens.length - s.kept;
            int held = LlamaNative.sequenceTokens(session, s.sequence);
            promptTokens += Math.max(0, held - before);
            int done = held - s.kept;
            if (total > batchSize) {
                s.request.send(new SequenceRequest.Progress(Math.min(done, total), total));
            }
            if (out[0] >= 0 || out[1] >= 0) {
                s.prefilled = true;
                firstTokens++;
                firstTokenNanos += System.nanoTime() - s.request.arrivedNanos;
                deliver(s, out[0], out[1], pieces[0]);
            }
            return;
        }
    }

    /** A step's event for a run: its token's text to the caller, and the run's end if it came. */
    private void deliver(Slot s, int token, int finish, byte[] piece) {
        if (token >= 0) {
            s.addGenerated(token);
            tokensGenerated++;
            String text = s.answer.add(piece);
            if (!text.isEmpty()) {
                s.request.send(new SequenceRequest.Text(text));
            }
            if (s.answer.stopped()) {
                finish = LlamaNative.FINISH_STOPPED;
            }
        }
        if (finish >= 0) {
            finish(s, finish);
        }
    }

    /** Ends a run: what the sequence holds now is remembered for the next call, the caller gets the completion. */
    private void finish(Slot s, int finish) {
        boolean cancelled = finish == LlamaNative.FINISH_CANCELLED;
        SequenceRequest request = s.request;
        LlamaNative.endRun(session, s.run, cancelled);
        int held = LlamaNative.sequenceTokens(session, s.sequence);
        int[] all = Arrays.copyOf(request.tokens, request.tokens.length + s.generatedCount);
        System.arraycopy(s.generated, 0, all, request.tokens.length, s.generatedCount);
        s.tokens = evicting ? new int[0] : Arrays.copyOf(all, Math.min(held, all.length));
        if (!cancelled) {
            String tail = s.answer.finish();
            if (!tail.isEmpty()) {
                request.send(new SequenceRequest.Text(tail));
            }
        }
        KvMemoryStats mem = memory.get();
        lastMemory = mem;
        int evaluated = s.prefilled || cancelled ? request.tokens.length - s.kept : 0;
        Completion completion = new Completion(s.answer.text(), request.tokens.length, s.kept, evaluated,
                s.generatedCount, finish, mem, List.of());
        release(s);
        request.send(new SequenceRequest.Done(completion));
    }

    /** Ends a run that failed: its sequence is cleared, the caller gets the reason. */
    private void fail(Slot s, String reason) {
        SequenceRequest request = s.request;
        LlamaNative.endRun(session, s.run, true);
        LlamaNative.clearSequence(session, s.sequence);
        s.tokens = new int[0];
        release(s);
        request.send(new SequenceRequest.Failed(new DeltaKvException(reason)));
    }

    private void release(Slot s) {
        s.request = null;
        s.run = 0;
        s.answer = null;
        s.lastUsed = ++clock;
        running--;
    }

    /** At the end of the loop: every running and waiting call fails, the runs' native state is freed. */
    private void failAll() {
        lock.lock();
        try {
            closing = true;
            for (Slot s : slots) {
                if (s.busy()) {
                    SequenceRequest request = s.request;
                    LlamaNative.endRun(session, s.run, true);
                    release(s);
                    request.send(new SequenceRequest.Failed(new DeltaKvException("the model was closed while this call ran")));
                }
            }
            for (SequenceRequest r : waiting) {
                r.send(new SequenceRequest.Failed(new DeltaKvException("the model was closed while this call waited")));
            }
            waiting.clear();
        } finally {
            lock.unlock();
        }
    }
}

package io.github.deltakv.langchain4j;

import io.github.deltakv.langchain4j.internal.StopSequences;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One call as the scheduler serves it: the prompt's tokens and how to sample the answer, and the events the scheduler
 * sends back to the calling thread, which alone runs the caller's code (listeners, handlers).
 */
final class SequenceRequest {

    /** What the scheduler sends back, in order; the last one is a {@link Done} or a {@link Failed}. */
    sealed interface Event permits Admitted, Text, Progress, Done, Failed {
    }

    /** The call got a sequence: it no longer waits in the queue. */
    record Admitted() implements Event {
    }

    /** Answer text that became final. */
    record Text(String text) implements Event {
    }

    /** Prompt evaluation: tokens done out of tokens to evaluate. */
    record Progress(int done, int total) implements Event {
    }

    record Done(Completion completion) implements Event {
    }

    record Failed(RuntimeException error) implements Event {
    }

    final int[] tokens;
    final SamplingSettings sampling;
    final StopSequences stops;
    /** 0, or the native chat call whose tool-call grammar applies. */
    final long chatCall;
    /** Answer tokens the call may take: its own limit within what the context leaves it. */
    final int answerLimit;
    /** When the call was made (System.nanoTime), for the time to its first token. */
    final long arrivedNanos = System.nanoTime();

    private final AtomicBoolean cancelled = new AtomicBoolean();
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();

    SequenceRequest(int[] tokens, SamplingSettings sampling, List<String> stops, long chatCall, int contextSize) {
        this.tokens = tokens;
        this.sampling = sampling;
        this.stops = new StopSequences(stops);
        this.chatCall = chatCall;
        int room = contextSize - tokens.length;
        this.answerLimit = sampling.maxTokens() < 0 ? room : Math.min(sampling.maxTokens(), room);
    }

    /** Cells of the context the call needs: its prompt and its longest answer. */
    int cellsNeeded() {
        return tokens.length + answerLimit;
    }

    /** The caller gave up on the call: a waiting call is never run, a running one stops at the next step. */
    void cancel() {
        cancelled.set(true);
    }

    boolean isCancelled() {
        return cancelled.get();
    }

    /** By the scheduler. */
    void send(Event event) {
        events.add(event);
    }

    /** By the calling thread: the next event, waiting for it up to timeoutNanos (negative: no limit); null on time. */
    Event next(long timeoutNanos) throws InterruptedException {
        return timeoutNanos < 0 ? events.take() : events.poll(timeoutNanos, TimeUnit.NANOSECONDS);
    }
}

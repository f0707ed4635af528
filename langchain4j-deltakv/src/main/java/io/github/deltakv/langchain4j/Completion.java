package io.github.deltakv.langchain4j;

import dev.langchain4j.model.output.FinishReason;

import io.github.deltakv.langchain4j.internal.LlamaNative;

/** What one call produced, and what it cost. */
record Completion(String text, int promptTokens, int promptTokensReused, int promptTokensEvaluated,
                  int outputTokens, int finish, KvMemoryStats kvMemory) {

    boolean cancelled() {
        return finish == LlamaNative.FINISH_CANCELLED;
    }

    FinishReason finishReason() {
        return switch (finish) {
            case LlamaNative.FINISH_MAX_TOKENS, LlamaNative.FINISH_CONTEXT_FULL -> FinishReason.LENGTH;
            case LlamaNative.FINISH_EOG, LlamaNative.FINISH_STOPPED -> FinishReason.STOP;
            default -> FinishReason.OTHER;
        };
    }
}

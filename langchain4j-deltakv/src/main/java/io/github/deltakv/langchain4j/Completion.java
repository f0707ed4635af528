package io.github.deltakv.langchain4j;

import dev.langchain4j.model.output.FinishReason;

import io.github.deltakv.langchain4j.internal.ChatAnswer;
import io.github.deltakv.langchain4j.internal.LlamaNative;

import java.util.List;

/** What one call produced, and what it cost; with tools, {@code text} is the answer's content. */
record Completion(String text, int promptTokens, int promptTokensReused, int promptTokensEvaluated,
                  int outputTokens, int finish, KvMemoryStats kvMemory, List<ChatAnswer.ToolCall> toolCalls) {

    /** This completion with the content and tool calls read out of its text. */
    Completion withAnswer(ChatAnswer answer) {
        return new Completion(answer.content(), promptTokens, promptTokensReused, promptTokensEvaluated, outputTokens,
                finish, kvMemory, answer.toolCalls());
    }

    boolean cancelled() {
        return finish == LlamaNative.FINISH_CANCELLED;
    }

    /** LENGTH for an answer cut short, tool calls or not (a call it was writing is dropped); else by its end. */
    FinishReason finishReason() {
        if (finish == LlamaNative.FINISH_MAX_TOKENS || finish == LlamaNative.FINISH_CONTEXT_FULL) {
            return FinishReason.LENGTH;
        }
        if (!toolCalls.isEmpty()) {
            return FinishReason.TOOL_EXECUTION;
        }
        return switch (finish) {
            case LlamaNative.FINISH_EOG, LlamaNative.FINISH_STOPPED -> FinishReason.STOP;
            default -> FinishReason.OTHER;
        };
    }
}

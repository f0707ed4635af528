package io.github.deltakv.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.model.output.FinishReason;

import io.github.deltakv.langchain4j.internal.ChatAnswer;
import io.github.deltakv.langchain4j.internal.LlamaNative;

import java.util.List;

import org.junit.jupiter.api.Test;

class CompletionTest {

    static Completion finished(int finish, List<ChatAnswer.ToolCall> calls) {
        return new Completion("", 10, 0, 10, 5, finish, null, calls);
    }

    @Test
    void an_answer_cut_short_is_length_even_with_complete_tool_calls_before_the_cut() {
        List<ChatAnswer.ToolCall> one = List.of(new ChatAnswer.ToolCall("call_0", "add", "{\"a\": 1}"));
        assertThat(finished(LlamaNative.FINISH_MAX_TOKENS, one).finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(finished(LlamaNative.FINISH_CONTEXT_FULL, one).finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(finished(LlamaNative.FINISH_EOG, one).finishReason()).isEqualTo(FinishReason.TOOL_EXECUTION);
        assertThat(finished(LlamaNative.FINISH_EOG, List.of()).finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(finished(LlamaNative.FINISH_STOPPED, List.of()).finishReason()).isEqualTo(FinishReason.STOP);
    }
}

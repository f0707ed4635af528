package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A call whose messages extend the previous call's evaluates only the new tokens. */
class PrefixReuseIT {

    static DeltaKvChatModel model;

    @BeforeAll
    static void load() {
        model = TestModels.kvtinyGreedy(4096, 16);
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void second_turn_evaluates_only_the_new_tokens() {
        Haystacks.Needle needle = Haystacks.needle(2000, 0.3, 7);
        List<ChatMessage> history = new ArrayList<>();
        history.add(UserMessage.from(needle.message()));

        ChatResponse first = model.chat(ChatRequest.builder().messages(history).build());
        DeltaKvChatResponseMetadata m1 = (DeltaKvChatResponseMetadata) first.metadata();
        int firstPrompt = first.tokenUsage().inputTokenCount();
        // another conversation may be cached: at most its opening (template tags, the task's instruction
        // sentence) is shared, never this document
        assertThat(m1.promptTokensReused()).isLessThan(100);
        assertThat(m1.promptTokensEvaluated()).isEqualTo(firstPrompt - m1.promptTokensReused());

        history.add(first.aiMessage());
        String question2 = "What is the special magic number for " + needle.key() + " mentioned in the provided text?";
        history.add(UserMessage.from(question2));
        ChatResponse second = model.chat(ChatRequest.builder().messages(history).build());
        DeltaKvChatResponseMetadata m2 = (DeltaKvChatResponseMetadata) second.metadata();

        int secondPrompt = second.tokenUsage().inputTokenCount();
        // only the tokens after the shared prefix were evaluated: the answer of turn 1 as the template
        // renders it, plus the new question (a few dozen tokens), never the 2000-token document
        assertThat(m2.promptTokensReused()).isGreaterThanOrEqualTo(firstPrompt);
        assertThat(m2.promptTokensEvaluated()).isEqualTo(secondPrompt - m2.promptTokensReused());
        int newTokens = model.engine().tokenize(first.aiMessage().text() + question2).length;
        assertThat(m2.promptTokensEvaluated()).isLessThanOrEqualTo(newTokens + 12);
    }

    @Test
    void a_different_conversation_reuses_only_the_common_prefix() {
        model.chat(ChatRequest.builder().messages(UserMessage.from(Haystacks.needle(500, 0.5, 1).message())).build());
        ChatResponse other = model.chat(ChatRequest.builder()
                .messages(UserMessage.from("Tell me a story."), AiMessage.from("Once"), UserMessage.from("More."))
                .build());
        DeltaKvChatResponseMetadata m = (DeltaKvChatResponseMetadata) other.metadata();
        assertThat(m.promptTokensReused()).isLessThan(5); // at most BOS and the user tag
        assertThat(m.promptTokensEvaluated() + m.promptTokensReused()).isEqualTo(other.tokenUsage().inputTokenCount());
    }
}

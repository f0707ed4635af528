package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.memory.chat.TokenWindowChatMemory;
import dev.langchain4j.model.chat.request.ChatRequest;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvTokenCountEstimator;

import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Token counts from the model's own tokenizer and template, and a TokenWindowChatMemory built on them. */
class TokenCountIT {

    static DeltaKvChatModel model;
    static DeltaKvTokenCountEstimator estimator;

    @BeforeAll
    static void load() {
        model = TestModels.kvtinyGreedy(2048, 8);
        estimator = new DeltaKvTokenCountEstimator(model.engine());
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void the_estimate_of_messages_is_the_prompt_a_call_evaluates() {
        List<ChatMessage> messages = List.of(UserMessage.from("Some special magic numbers are hidden here."),
                AiMessage.from("1234567"), UserMessage.from("What is the number?"));

        int estimated = estimator.estimateTokenCountInMessages(messages);

        int evaluated = model.chat(ChatRequest.builder().messages(messages).build()).tokenUsage().inputTokenCount();
        assertThat(estimated).isEqualTo(evaluated);
        assertThat(estimator.estimateTokenCountInText("")).isZero();
        assertThat(estimator.estimateTokenCountInText("hello world")).isBetween(1, 4);
        assertThat(estimator.estimateTokenCountInMessage(messages.get(0)))
                .isGreaterThan(estimator.estimateTokenCountInText(((UserMessage) messages.get(0)).singleText()));
    }

    @Test
    void a_token_window_memory_keeps_what_fits() {
        TokenWindowChatMemory memory = TokenWindowChatMemory.builder().maxTokens(60, estimator).build();
        for (int i = 0; i < 20; i++) {
            memory.add(UserMessage.from("Message number " + i + " of a long conversation."));
        }
        assertThat(memory.messages()).hasSizeLessThan(20).isNotEmpty();
        assertThat(estimator.estimateTokenCountInMessages(memory.messages())).isLessThanOrEqualTo(60);
        assertThat(((UserMessage) memory.messages().get(memory.messages().size() - 1)).singleText())
                .contains("Message number 19");
    }
}

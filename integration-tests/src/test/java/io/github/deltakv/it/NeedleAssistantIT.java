package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.service.AiServices;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** An AiServices assistant with chat memory finds a needle in a 4K-token document (kvtiny). */
class NeedleAssistantIT {

    interface Assistant {
        String chat(String message);
    }

    static DeltaKvChatModel model;

    @BeforeAll
    static void load() {
        model = TestModels.kvtinyGreedy(4608, 16);
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @ParameterizedTest(name = "needle at depth {0}")
    @CsvSource({"0.1, 11", "0.5, 12", "0.9, 13"})
    void answers_a_needle_question_about_a_4k_token_document(double depth, long seed) {
        Haystacks.Needle needle = Haystacks.needle(4000, depth, seed);
        Assistant assistant = AiServices.builder(Assistant.class)
                .chatModel(model)
                .chatMemory(MessageWindowChatMemory.withMaxMessages(10))
                .build();

        String answer = assistant.chat(needle.message());

        assertThat(model.engine().kvMemory().tokensHeld()).isGreaterThan(3500);
        assertThat(answer.strip()).isEqualTo(needle.answer());
    }
}

package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.service.AiServices;

import io.github.deltakv.it.baseline.JavaLlamaCppChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatModel;

import org.junit.jupiter.api.Test;

/**
 * The same LangChain4j application code on the stock baseline (java-llama.cpp 4.2.0 with its own CPU
 * llama.cpp) and on DeltaKV: the only line that differs is the one that builds the ChatModel.
 */
class ProviderSwapIT {

    /** The application: an AiServices assistant with chat memory. It knows nothing of the provider. */
    interface StoryTeller {
        String continueStory(String beginning);
    }

    static String runApplication(ChatModel chatModel) {
        StoryTeller teller = AiServices.builder(StoryTeller.class)
                .chatModel(chatModel)
                .chatMemory(MessageWindowChatMemory.withMaxMessages(10))
                .build();
        return teller.continueStory("Once upon a time, there was a little girl named Lily.");
    }

    @Test
    void the_same_assistant_runs_on_the_stock_baseline_and_on_deltakv() {
        String stock;
        try (JavaLlamaCppChatModel model = JavaLlamaCppChatModel.builder()       // stock baseline
                .modelPath(TestModels.stories()).contextSize(512).threads(TestModels.threads())
                .temperature(0.0).maxTokens(32).seed(42).build()) {
            stock = runApplication(model);
        }

        String deltaKv;
        try (DeltaKvChatModel model = DeltaKvChatModel.builder()                 // the one line swapped
                .modelPath(TestModels.stories()).contextSize(512).threads(TestModels.threads())
                .temperature(0.0).maxTokens(32).seed(42L).build()) {
            deltaKv = runApplication(model);
        }

        // stories260K writes children's-story English; both providers produce some
        assertThat(stock).isNotBlank().containsPattern("[A-Za-z]{3,}");
        assertThat(deltaKv).isNotBlank().containsPattern("[A-Za-z]{3,}");
        System.out.printf("stock baseline: %s%nDeltaKV:        %s%n", stock.strip(), deltaKv.strip());
    }
}

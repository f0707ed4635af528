package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every user mistake gives a clear Java exception, never a JVM crash; models stay usable where that makes sense. */
class BadInputIT {

    @TempDir
    Path tmp;

    private static DeltaKvChatModel.Builder kvtiny() {
        return DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).threads(TestModels.threads())
                .temperature(0.0).maxTokens(8);
    }

    @Test
    void missing_model_file() {
        Path missing = tmp.resolve("no-such-model.gguf");
        assertThatThrownBy(() -> DeltaKvChatModel.builder().modelPath(missing).build())
                .isInstanceOf(DeltaKvException.class)
                .hasMessageContaining("model file not found")
                .hasMessageContaining(missing.toString());
    }

    @Test
    void file_that_is_not_gguf() throws IOException {
        Path text = Files.writeString(tmp.resolve("notes.gguf"), "this is not a model\n");
        assertThatThrownBy(() -> DeltaKvChatModel.builder().modelPath(text).build())
                .isInstanceOf(DeltaKvException.class)
                .hasMessageContaining("not a GGUF model file");
    }

    @ParameterizedTest(name = "truncated to {0} bytes")
    @ValueSource(ints = {4, 64, 4096, 7_000_000})
    void truncated_gguf(int length) throws IOException {
        byte[] whole = Files.readAllBytes(TestModels.kvtiny());
        Path truncated = Files.write(tmp.resolve("truncated.gguf"), Arrays.copyOf(whole, length));
        assertThatThrownBy(() -> DeltaKvChatModel.builder().modelPath(truncated).build())
                .isInstanceOf(DeltaKvException.class)
                .hasMessageContaining("truncated.gguf");
    }

    @ParameterizedTest(name = "contextSize {0}")
    @ValueSource(ints = {0, -1, -4096})
    void context_size_zero_or_negative(int contextSize) {
        assertThatThrownBy(() -> kvtiny().contextSize(contextSize).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("contextSize must be positive");
    }

    @Test
    void other_parameters_out_of_range() {
        assertThatThrownBy(() -> kvtiny().threads(0).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("threads");
        assertThatThrownBy(() -> kvtiny().gpuLayers(-2).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("gpuLayers");
        assertThatThrownBy(() -> kvtiny().temperature(-0.5).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> kvtiny().topP(1.5).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("topP");
    }

    @Test
    void prompt_longer_than_the_context_then_the_model_still_works() {
        try (DeltaKvChatModel model = kvtiny().contextSize(512).build()) {
            String longText = Haystacks.needle(1500, 0.5, 3).message();
            assertThatThrownBy(() -> model.chat(longText))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("context holds 512");

            ChatResponse ok = model.chat(ChatRequest.builder().messages(UserMessage.from("Hello")).build());
            assertThat(ok.tokenUsage().inputTokenCount()).isPositive();
            assertThat(ok.tokenUsage().outputTokenCount()).isPositive();
        }
    }

    @Test
    void call_after_close() {
        DeltaKvChatModel model = kvtiny().contextSize(512).build();
        model.close();
        assertThatThrownBy(() -> model.chat("Hello"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        model.close(); // closing twice is harmless
    }
}

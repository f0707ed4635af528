package io.github.deltakv.langchain4j;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.spi.ServiceHelper;

import io.github.deltakv.langchain4j.internal.AnswerListener;
import io.github.deltakv.langchain4j.spi.DeltaKvChatModelBuilderFactory;

/**
 * A LangChain4j {@link ChatModel} running a GGUF model in-process on llama.cpp with DeltaKV.
 *
 * <pre>{@code
 * ChatModel model = DeltaKvChatModel.builder()
 *         .modelPath(Path.of("model.gguf"))
 *         .contextSize(16384)
 *         .build();
 * }</pre>
 *
 * Close it when done: {@link #close()} frees native memory.
 */
public class DeltaKvChatModel extends DeltaKvBaseChatModel implements ChatModel {

    protected DeltaKvChatModel(Builder builder) {
        super(builder);
    }

    /** A builder: the one a {@link DeltaKvChatModelBuilderFactory} service supplies if there is one, else a plain one. */
    public static Builder builder() {
        for (DeltaKvChatModelBuilderFactory factory : ServiceHelper.loadFactories(DeltaKvChatModelBuilderFactory.class)) {
            return factory.get();
        }
        return new Builder();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        return toResponse(complete(request, check(request), AnswerListener.IGNORE, () -> false));
    }

    public static class Builder extends DeltaKvBaseChatModel.Builder<DeltaKvChatModel, Builder> {

        public Builder() {
        }

        @Override
        public DeltaKvChatModel build() {
            return new DeltaKvChatModel(this);
        }
    }
}

package io.github.deltakv.it;

import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.common.AbstractStreamingChatModelListenerIT;
import dev.langchain4j.model.chat.listener.ChatModelListener;

import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import java.util.List;

/** LangChain4j's shared streaming listener suite: listeners see request, response and errors. */
class DeltaKvStreamingChatModelListenerIT extends AbstractStreamingChatModelListenerIT {

    @Override
    protected StreamingChatModel createModel(ChatModelListener listener) {
        return DeltaKvStreamingChatModel.builder()
                .engine(SuiteModels.engine())
                .temperature(temperature())
                .topP(topP())
                .maxTokens(maxTokens())
                .listeners(List.of(listener))
                .build();
    }

    @Override
    protected String modelName() {
        return SuiteModels.engine().modelName();
    }

    /** A model whose engine was closed: calls fail with IllegalStateException. */
    @Override
    protected StreamingChatModel createFailingModel(ChatModelListener listener) {
        return DeltaKvStreamingChatModel.builder().engine(SuiteModels.closedEngine()).listeners(List.of(listener)).build();
    }

    @Override
    protected Class<? extends Exception> expectedExceptionClass() {
        return IllegalStateException.class;
    }

    @Override
    protected boolean supportsTools() {
        return SuiteModels.engine().templateSupportsTools(); // kvtiny's own template has no tool-call format
    }
}

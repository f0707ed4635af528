package io.github.deltakv.langchain4j;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.PartialToolCall;
import dev.langchain4j.model.chat.response.PartialToolCallContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import dev.langchain4j.spi.ServiceHelper;

import io.github.deltakv.langchain4j.internal.AnswerListener;
import io.github.deltakv.langchain4j.spi.DeltaKvStreamingChatModelBuilderFactory;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.function.BooleanSupplier;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A LangChain4j {@link StreamingChatModel} running a GGUF model in-process on llama.cpp with DeltaKV.
 * Tokens arrive on a worker thread, never the caller's; a stream is cancelled through the
 * {@link StreamingHandle} of its partial responses, or from the start (a long prompt's evaluation included) through
 * the handle {@link #start} returns. {@link #close()} frees native memory.
 */
public class DeltaKvStreamingChatModel extends DeltaKvBaseChatModel implements StreamingChatModel {

    private static final Logger LOG = LoggerFactory.getLogger(DeltaKvStreamingChatModel.class);
    private static final AtomicInteger THREADS = new AtomicInteger();

    /** Worker threads of all streaming models: daemons, ended when idle for a minute. */
    private static final ExecutorService WORKERS = Executors.newCachedThreadPool(workerThreads());

    protected DeltaKvStreamingChatModel(Builder builder) {
        super(builder);
    }

    /** A builder: the one a {@link DeltaKvStreamingChatModelBuilderFactory} service supplies if there is one, else a plain one. */
    public static Builder builder() {
        for (DeltaKvStreamingChatModelBuilderFactory factory : ServiceHelper.loadFactories(DeltaKvStreamingChatModelBuilderFactory.class)) {
            return factory.get();
        }
        return new Builder();
    }

    /** The handle {@link #start} gives the stream it is starting on this thread. */
    private static final ThreadLocal<Handle> STARTING = new ThreadLocal<>();

    /**
     * {@link #chat(ChatRequest, StreamingChatResponseHandler)}, returning at once the stream's handle: cancelling it
     * stops the stream at any point, before the first token too (a waiting call never starts, a prompt being
     * evaluated stops within one slice). The handle is the one the partial responses carry.
     */
    public StreamingHandle start(ChatRequest request, StreamingChatResponseHandler handler) {
        Handle handle = new Handle();
        STARTING.set(handle);
        try {
            chat(request, handler);
        } finally {
            STARTING.remove();
        }
        return handle;
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        Handle started = STARTING.get();
        STARTING.remove();
        Handle handle = started == null ? new Handle() : started;
        String messagesJson = check(request); // what cannot be served fails on the caller's thread
        WORKERS.execute(() -> stream(request, messagesJson, handler, handle));
    }

    /**
     * One stream, on a worker thread. As in LangChain4j's own providers, an exception thrown by the
     * handler's onPartialResponse or onCompleteResponse goes to its onError, and one thrown by onError is
     * logged and dropped. A cancelled stream ends without onCompleteResponse or onError.
     */
    private void stream(ChatRequest request, String messagesJson, StreamingChatResponseHandler handler,
                        Handle handle) {
        PartialResponseContext context = new PartialResponseContext(handle);
        PartialToolCallContext toolContext = new PartialToolCallContext(handle);
        AnswerListener listener = new AnswerListener() {
            @Override
            public void onText(String text) {
                try {
                    handler.onPartialResponse(new PartialResponse(text), context);
                } catch (RuntimeException e) {
                    onError(handler, e);
                }
            }

            @Override
            public void onPartialToolCall(int index, String id, String name, String partialArguments) {
                try {
                    handler.onPartialToolCall(PartialToolCall.builder().index(index).id(id).name(name)
                            .partialArguments(partialArguments).build(), toolContext);
                } catch (RuntimeException e) {
                    onError(handler, e);
                }
            }
        };
        Completion completion;
        try {
            completion = complete(request, messagesJson, listener, handle);
        } catch (RuntimeException | Error e) {
            if (!handle.isCancelled()) {
                onError(handler, e);
            }
            return;
        }
        if (completion.cancelled() || handle.isCancelled()) {
            return;
        }
        try {
            List<ToolExecutionRequest> toolRequests = toolRequests(completion);
            for (int i = 0; i < toolRequests.size(); i++) {
                handler.onCompleteToolCall(new CompleteToolCall(i, toolRequests.get(i)));
            }
            handler.onCompleteResponse(toResponse(completion));
        } catch (RuntimeException e) {
            onError(handler, e);
        }
    }

    private static void onError(StreamingChatResponseHandler handler, Throwable error) {
        try {
            handler.onError(error);
        } catch (RuntimeException e) {
            LOG.warn("a streaming handler's onError threw; ignored", e);
        }
    }

    /** Stops the native loop at the next token. */
    private final class Handle implements StreamingHandle, BooleanSupplier {
        private final AtomicBoolean cancelled = new AtomicBoolean();

        @Override
        public void cancel() {
            // the token loop polls this handle; the native cancel also stops a long prompt evaluation
            if (cancelled.compareAndSet(false, true)) {
                engine.cancel(this);
            }
        }

        @Override
        public boolean getAsBoolean() {
            return cancelled.get();
        }

        @Override
        public boolean isCancelled() {
            return cancelled.get();
        }
    }

    private static ThreadFactory workerThreads() {
        return runnable -> {
            Thread t = new Thread(runnable, "deltakv-stream-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    public static class Builder extends DeltaKvBaseChatModel.Builder<DeltaKvStreamingChatModel, Builder> {

        public Builder() {
        }

        @Override
        public DeltaKvStreamingChatModel build() {
            return new DeltaKvStreamingChatModel(this);
        }
    }
}

package io.github.deltakv.it;

import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.CompleteToolCall;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.PartialToolCall;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Collects a stream for the streaming tests: partial texts, the threads they came on, partial and complete tool
 * calls, errors, and the end; it can cancel after some partial texts or throw from the handler's callbacks.
 */
final class Recorder implements StreamingChatResponseHandler {
    final List<String> partials = new CopyOnWriteArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();
    final CompletableFuture<ChatResponse> done = new CompletableFuture<>();
    final List<Throwable> errors = new CopyOnWriteArrayList<>();
    final List<PartialToolCall> partialToolCalls = new CopyOnWriteArrayList<>();
    final List<CompleteToolCall> completeToolCalls = new CopyOnWriteArrayList<>();
    int cancelAfter = Integer.MAX_VALUE;
    RuntimeException throwFromPartial;
    RuntimeException throwFromComplete;

    @Override
    public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
        partials.add(partial.text());
        threads.add(Thread.currentThread().getName());
        if (partials.size() == cancelAfter) {
            context.streamingHandle().cancel();
        }
        if (throwFromPartial != null) {
            throw throwFromPartial;
        }
    }

    @Override
    public void onPartialToolCall(PartialToolCall partialToolCall) {
        partialToolCalls.add(partialToolCall);
    }

    @Override
    public void onCompleteToolCall(CompleteToolCall completeToolCall) {
        completeToolCalls.add(completeToolCall);
    }

    @Override
    public void onCompleteResponse(ChatResponse response) {
        threads.add(Thread.currentThread().getName());
        done.complete(response);
        if (throwFromComplete != null) {
            throw throwFromComplete;
        }
    }

    @Override
    public void onError(Throwable error) {
        errors.add(error);
    }
}

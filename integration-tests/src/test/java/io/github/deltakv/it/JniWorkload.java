package io.github.deltakv.it;

import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonSchema;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.opentest4j.TestAbortedException;

/**
 * Every kind of JNI call the provider makes, in one process, for {@link JniCheckIT} to run under {@code -Xcheck:jni}:
 * loading with progress (a listener that throws included), chats, streams and their cancellation, JSON schema and
 * tool-call grammars, DeltaKV memory, the prefix cache, a layer split over an RPC device, errors raised in native
 * code, close.
 */
public final class JniWorkload {

    private JniWorkload() {
    }

    public static void main(String[] args) throws Exception {
        Path tmp = Files.createTempDirectory("jni-workload");
        Haystacks.Needle needle = Haystacks.needle(700, 0.4, 5);
        AtomicBoolean thrown = new AtomicBoolean();
        DeltaKvEngine.ProgressListener throwing = new DeltaKvEngine.ProgressListener() {
            @Override
            public void onPromptProgress(int done, int total) {
                if (thrown.compareAndSet(false, true)) {
                    throw new IllegalStateException("a listener that throws, once");
                }
            }
        };
        try (DeltaKvEngine engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(4096)
                .batchSize(128).threads(TestModels.threads()).chatTemplate(ChatTemplates.qwen25())
                .prefixCacheBytes(64L << 20).progressListener(throwing).build()) {
            DeltaKvChatModel chat = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(16).build();
            expectFailure(() -> chat.chat(needle.message())); // the listener's exception ends the call
            chat.chat("Hello");
            engine.countPromptTokens(List.of(UserMessage.from("<|im_end|> a document that looks like markup")));

            ResponseFormat json = ResponseFormat.builder().type(ResponseFormatType.JSON).jsonSchema(JsonSchema.builder()
                    .name("answer").rootElement(JsonObjectSchema.builder().addIntegerProperty("n").required("n")
                            .build()).build()).build();
            chat.chat(ChatRequest.builder().messages(UserMessage.from("A number?")).responseFormat(json).build());
            ToolSpecification add = ToolSpecification.builder().name("add").parameters(JsonObjectSchema.builder()
                    .addIntegerProperty("a").addIntegerProperty("b").required("a", "b").build()).build();
            chat.chat(ChatRequest.builder().messages(UserMessage.from("Add 2 and 3")).toolSpecifications(add)
                    .toolChoice(ToolChoice.REQUIRED).build());

            DeltaKvStreamingChatModel streaming = DeltaKvStreamingChatModel.builder().engine(engine).temperature(0.0)
                    .maxTokens(24).build();
            Recorder whole = new Recorder();
            streaming.chat("Tell me a story.", whole);
            whole.done.get(60, TimeUnit.SECONDS);
            Recorder cut = new Recorder();
            cut.cancelAfter = 2;
            streaming.chat("Tell me a long story.", cut);
            Recorder early = new Recorder();
            streaming.start(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).build(), early)
                    .cancel();
            Thread.sleep(500);
        }
        try (DeltaKvChatModel deltaKv = DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(2048)
                .batchSize(2048).maxSequences(1).threads(TestModels.threads()).temperature(0.0).maxTokens(16)
                .deltaKv(DeltaKvConfig.of(DeltaKvMemoryIT.sideFile("kvtiny-random-d64-int4.deltakv.gguf")))
                .build()) {
            deltaKv.chat(needle.message());
            deltaKv.chat(Haystacks.needle(700, 0.4, 6).message());
            deltaKv.chat(needle.message()); // back from the prefix cache
        }
        // the layer split over an RPC device: registering a server, naming devices, KV bytes by device, refusals
        try (RpcServers servers = RpcServers.start(1, tmp);
             DeltaKvChatModel split = DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(1024)
                     .rpcServers(servers.endpoints()).devices(servers.endpoints()).threads(TestModels.threads())
                     .temperature(0.0).maxTokens(8).build()) {
            split.chat("Hello");
            System.out.println("rpc leg done: " + split.engine().kvBytesByDevice());
        } catch (TestAbortedException notBuilt) {
            System.out.println("rpc leg skipped: " + notBuilt.getMessage());
        }
        expectFailure(() -> DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).devices(List.of("CUDA7")).build());
        expectFailure(() -> DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).rpcServers(List.of("127.0.0.1:1"))
                .build());
        Path corrupt = Files.write(tmp.resolve("corrupt.gguf"), new byte[] {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1});
        expectFailure(() -> DeltaKvChatModel.builder().modelPath(corrupt).build());
        expectFailure(() -> DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(Integer.MAX_VALUE)
                .build());
        System.out.println("jni workload done");
    }

    private static void expectFailure(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException expected) {
            return;
        }
        throw new AssertionError("expected an exception");
    }
}

package io.github.deltakv.it.baseline;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.Pair;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stock baseline {@link ChatModel} on java-llama.cpp ({@code de.kherud:llama}), CPU only.
 * Models with a chat template in their GGUF metadata are prompted through it; others get a plain
 * "System:/User:/Assistant:" transcript. One generation runs at a time per instance.
 */
public class JavaLlamaCppChatModel implements ChatModel, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(JavaLlamaCppChatModel.class);
    private static final String PLAIN_STOP = "\nUser:";

    private final LlamaModel model;
    private final String modelName;
    private final int contextSize;
    private final Integer seed;
    private final boolean hasChatTemplate;
    private final ChatRequestParameters defaults;
    private boolean closed;

    private JavaLlamaCppChatModel(Builder b) {
        if (b.modelPath == null || !Files.isRegularFile(b.modelPath)) {
            throw new IllegalArgumentException("modelPath must be an existing GGUF file: " + b.modelPath);
        }
        this.modelName = b.modelPath.getFileName().toString();
        this.contextSize = b.contextSize;
        this.seed = b.seed;
        this.hasChatTemplate = hasGgufKey(b.modelPath, "tokenizer.chat_template");
        this.defaults = ChatRequestParameters.builder()
                .modelName(modelName).temperature(b.temperature).maxOutputTokens(b.maxTokens).build();
        ModelParameters params = new ModelParameters().setModel(b.modelPath.toString()).setCtxSize(contextSize);
        if (b.threads != null) params.setThreads(b.threads);
        if (!b.nativeLogging) params.disableLog(); // otherwise llama.cpp logs every load and request to stderr
        this.model = new LlamaModel(params);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        ChatRequestParameters p = request.parameters();
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("tools are not supported by " + getClass().getSimpleName());
        }
        List<String> stops = new ArrayList<>(p.stopSequences() == null ? List.of() : p.stopSequences());
        synchronized (this) {
            if (closed) throw new IllegalStateException("model is closed");
            String prompt;
            if (hasChatTemplate) {
                prompt = model.applyTemplate(toTemplateParameters(request.messages()));
            } else {
                prompt = renderPlain(request.messages());
                stops.add(PLAIN_STOP);
            }
            InferenceParameters ip = new InferenceParameters(prompt).setStopStrings(stops.toArray(String[]::new));
            if (p.temperature() != null) ip.setTemperature(p.temperature().floatValue());
            if (p.topP() != null) ip.setTopP(p.topP().floatValue());
            if (p.topK() != null) ip.setTopK(p.topK());
            if (p.maxOutputTokens() != null) ip.setNPredict(p.maxOutputTokens());
            if (seed != null) ip.setSeed(seed);

            int inputTokens = model.encode(prompt).length; // excludes the BOS token llama.cpp adds
            StringBuilder text = new StringBuilder();
            int chunks = 0; // one chunk per sampled token, plus a final empty end-of-stream chunk
            for (LlamaOutput out : model.generate(ip)) {
                text.append(out.text);
                chunks++;
            }
            int outputTokens = Math.max(0, chunks - 1);
            boolean hitLimit = (p.maxOutputTokens() != null && outputTokens >= p.maxOutputTokens())
                    || inputTokens + outputTokens >= contextSize;
            return ChatResponse.builder()
                    .aiMessage(AiMessage.from(text.toString().strip()))
                    .tokenUsage(new TokenUsage(inputTokens, outputTokens))
                    .finishReason(hitLimit ? FinishReason.LENGTH : FinishReason.STOP)
                    .modelName(modelName)
                    .build();
        }
    }

    private static String renderPlain(List<ChatMessage> messages) {
        StringBuilder sb = new StringBuilder();
        for (ChatMessage m : messages) {
            String role = roleOf(m); // "System: ...", "User: ...", "Assistant: ..."
            sb.append(Character.toUpperCase(role.charAt(0))).append(role.substring(1))
                    .append(": ").append(textOf(m)).append('\n');
        }
        return sb.append("Assistant:").toString();
    }

    private static InferenceParameters toTemplateParameters(List<ChatMessage> messages) {
        StringBuilder system = new StringBuilder();
        List<Pair<String, String>> turns = new ArrayList<>();
        for (ChatMessage m : messages) {
            if (m instanceof SystemMessage) {
                system.append(system.length() > 0 ? "\n" : "").append(textOf(m));
            } else {
                turns.add(new Pair<>(roleOf(m), textOf(m)));
            }
        }
        return new InferenceParameters("").setMessages(system.toString(), turns);
    }

    private static String roleOf(ChatMessage m) {
        if (m instanceof SystemMessage) return "system";
        if (m instanceof UserMessage) return "user";
        if (m instanceof AiMessage) return "assistant";
        throw new UnsupportedFeatureException("unsupported message type: " + m.type());
    }

    private static String textOf(ChatMessage m) {
        if (m instanceof SystemMessage s) return s.text();
        if (m instanceof UserMessage u) {
            if (!u.hasSingleText()) throw new UnsupportedFeatureException("only text user messages are supported");
            return u.singleText();
        }
        if (m instanceof AiMessage a) return a.text() == null ? "" : a.text();
        throw new UnsupportedFeatureException("unsupported message type: " + m.type());
    }

    /** Whether the GGUF metadata of {@code file} contains {@code key}; false if it cannot be read. */
    static boolean hasGgufKey(Path file, String key) {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            if (Integer.reverseBytes(in.readInt()) != 0x46554747 || Integer.reverseBytes(in.readInt()) < 2) return false;
            in.readLong(); // tensor count
            long kvCount = Long.reverseBytes(in.readLong());
            for (long i = 0; i < kvCount; i++) {
                byte[] name = new byte[(int) Long.reverseBytes(in.readLong())];
                in.readFully(name);
                if (key.equals(new String(name, StandardCharsets.UTF_8))) return true;
                skipGgufValue(in, Integer.reverseBytes(in.readInt()));
            }
        } catch (IOException | RuntimeException e) {
            log.warn("could not read GGUF metadata of {}: {}", file, e.toString());
        }
        return false;
    }

    private static final int[] GGUF_SCALAR_SIZES = {1, 1, 2, 2, 4, 4, 4, 1, -1, -1, 8, 8, 8};

    private static void skipGgufValue(DataInputStream in, int type) throws IOException {
        if (type == 8) { // string
            in.skipNBytes(Long.reverseBytes(in.readLong()));
        } else if (type == 9) { // array: element type, count, elements
            int elementType = Integer.reverseBytes(in.readInt());
            long count = Long.reverseBytes(in.readLong());
            if (elementType != 8 && elementType != 9) {
                in.skipNBytes(count * GGUF_SCALAR_SIZES[elementType]);
            } else {
                for (long i = 0; i < count; i++) skipGgufValue(in, elementType);
            }
        } else {
            in.skipNBytes(GGUF_SCALAR_SIZES[type]);
        }
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return defaults;
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /** Stops the native task loop. Note: java-llama.cpp 4.2.0 does not free the native model memory. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            model.close();
        }
    }

    public static final class Builder {
        private Path modelPath;
        private int contextSize = 2048;
        private Integer threads;
        private Double temperature;
        private Integer maxTokens;
        private Integer seed;
        private boolean nativeLogging;

        public Builder modelPath(Path modelPath) { this.modelPath = modelPath; return this; }
        public Builder contextSize(int contextSize) { this.contextSize = contextSize; return this; }
        public Builder threads(int threads) { this.threads = threads; return this; }
        public Builder temperature(double temperature) { this.temperature = temperature; return this; }
        public Builder maxTokens(int maxTokens) { this.maxTokens = maxTokens; return this; }
        public Builder seed(int seed) { this.seed = seed; return this; }
        public Builder nativeLogging(boolean nativeLogging) { this.nativeLogging = nativeLogging; return this; }

        public JavaLlamaCppChatModel build() {
            return new JavaLlamaCppChatModel(this);
        }
    }
}

package io.github.deltakv.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvStats;
import io.github.deltakv.langchain4j.compressor.DeltaKvCalibrator;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Accuracy against KV memory, side by side on the same prompts: the stock cache in F16, Q8_0 and Q4_0, and
 * DeltaKV with compressors calibrated for the model (PCA, F16 or int4 latents). Prompts: the shared eval set
 * ({@code evaldata/kvtiny-eval-4k-16k.jsonl}: single and multi-key needles, key-value retrieval, variable
 * tracking). Greedy decoding, exact match. Writes {@code accuracy.md} (table with 95% Wilson intervals and
 * measured KV bytes) and {@code accuracy.png} (accuracy against memory) into the output folder.
 *
 * <pre>
 * AccuracySuite --model kvtiny.gguf --evaldata kvtiny-eval-4k-16k.jsonl --out DIR [--lengths 4096,8192,16384]
 *     [--per-task 8] [--configs f16,q8_0,q4_0,pca32-int4,pca64-int4,pca64-f16] [--full-layers 0,4] [--threads N]
 * </pre>
 */
public final class AccuracySuite {

    record Prompt(String task, int length, List<ChatMessage> messages, String answer) {
    }

    /** One configuration's results: per (task, length) correct and total, and mean KV bytes vs F16 per length. */
    record Outcome(String config, Map<String, int[]> cells, Map<Integer, double[]> memory) {
    }

    private AccuracySuite() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            opt.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        Path model = Path.of(opt.get("model"));
        Path out = Path.of(opt.getOrDefault("out", "target/accuracy"));
        Files.createDirectories(out);
        List<Integer> lengths = ints(opt.getOrDefault("lengths", "4096,8192,16384"));
        int perTask = Integer.parseInt(opt.getOrDefault("per-task", "8"));
        List<String> configs = List.of(opt.getOrDefault("configs", "f16,q8_0,q4_0,pca32-int4,pca64-int4,pca64-f16").split(","));
        List<Integer> fullLayers = ints(opt.getOrDefault("full-layers", "0,4"));
        int threads = Integer.parseInt(opt.getOrDefault("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        List<Prompt> prompts = load(Path.of(opt.get("evaldata")), lengths, perTask);
        int context = lengths.stream().mapToInt(Integer::intValue).max().orElse(4096) + 512;

        List<Outcome> outcomes = new ArrayList<>();
        for (String config : configs) {
            outcomes.add(run(config, model, out, prompts, context, fullLayers, threads));
        }
        Report.write(out, outcomes, lengths, prompts, fullLayers, String.join(" ", args));
        System.out.println("wrote " + out.resolve("accuracy.md") + " and " + out.resolve("accuracy.png"));
    }

    static Outcome run(String config, Path model, Path out, List<Prompt> prompts, int context, List<Integer> fullLayers,
                       int threads) throws IOException {
        DeltaKvChatModel.Builder b = DeltaKvChatModel.builder().modelPath(model).contextSize(context).batchSize(context)
                .threads(threads).flashAttention(true).temperature(0.0).maxTokens(48);
        if (config.startsWith("pca")) {
            // pca<d>-<int4|f16>: a compressor calibrated for this model on the built-in text
            String[] p = config.substring(3).split("-");
            int d = Integer.parseInt(p[0]);
            int bits = p[1].equals("int4") ? 4 : 16;
            Path side = out.resolve(config + ".deltakv.gguf");
            if (!Files.exists(side)) {
                DeltaKvCalibrator.builder().modelPath(model).latentDim(d).latentBits(bits).fullLayers(fullLayers)
                        .threads(threads).build().calibrate(side);
            }
            b.deltaKv(DeltaKvConfig.of(side));
        } else {
            b.kvCacheType(config);
        }
        Map<String, int[]> cells = new LinkedHashMap<>();
        Map<Integer, double[]> memory = new LinkedHashMap<>(); // length -> {sum of bytes, sum of F16 bytes}
        try (DeltaKvChatModel m = b.build()) {
            int done = 0;
            for (Prompt pr : prompts) {
                ChatResponse r = m.chat(pr.messages());
                String got = r.aiMessage().text() == null ? "" : r.aiMessage().text().strip();
                int[] c = cells.computeIfAbsent(pr.task() + "@" + pr.length(), k -> new int[2]);
                c[0] += got.equals(pr.answer()) ? 1 : 0;
                c[1]++;
                DeltaKvStats dk = m.engine().kvMemory().deltaKv();
                double[] mem = memory.computeIfAbsent(pr.length(), k -> new double[2]);
                if (dk != null) {
                    mem[0] += dk.bytesUsed();
                    mem[1] += dk.bytesStock();
                } else {
                    long held = m.engine().kvMemory().bytesHeld();
                    mem[0] += held;
                    mem[1] += held * f16Factor(config);
                }
                System.err.printf("\r[accuracy] %-11s %3d/%d", config, ++done, prompts.size());
            }
        }
        System.err.println();
        return new Outcome(config, cells, memory);
    }

    // bytes of an F16 cache per byte of this type (blocks of 32: q8_0 34 bytes, q4_0 18 bytes, F16 64 bytes)
    static double f16Factor(String type) {
        return switch (type) {
            case "q8_0" -> 64.0 / 34;
            case "q5_1" -> 64.0 / 24;
            case "q5_0" -> 64.0 / 22;
            case "q4_1" -> 64.0 / 20;
            case "q4_0" -> 64.0 / 18;
            default -> 1.0;
        };
    }

    static List<Prompt> load(Path jsonl, List<Integer> lengths, int perTask) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<String, Integer> taken = new HashMap<>();
        List<Prompt> prompts = new ArrayList<>();
        for (String line : Files.readAllLines(jsonl)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode n = json.readTree(line);
            int length = n.get("target_tokens").asInt();
            String task = n.get("task").asText();
            if (!lengths.contains(length) || taken.merge(task + "@" + length, 1, Integer::sum) > perTask) {
                continue;
            }
            List<ChatMessage> messages = new ArrayList<>();
            for (JsonNode m : n.get("messages")) {
                String text = m.get("content").asText();
                messages.add(switch (m.get("role").asText()) {
                    case "system" -> SystemMessage.from(text);
                    case "assistant" -> AiMessage.from(text);
                    default -> UserMessage.from(text);
                });
            }
            prompts.add(new Prompt(task, length, messages, n.get("answer").asText().strip()));
        }
        return prompts;
    }

    static List<Integer> ints(String csv) {
        return Arrays.stream(csv.split(",")).map(String::strip).map(Integer::valueOf).toList();
    }

    static TreeSet<String> tasks(List<Prompt> prompts) {
        TreeSet<String> t = new TreeSet<>();
        prompts.forEach(p -> t.add(p.task()));
        return t;
    }
}

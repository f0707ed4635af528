package io.github.deltakv.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.calibration.DeltaKvCalibrator;
import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.KvMemoryStats;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Accuracy against KV memory, side by side on the same prompts: the stock cache in F16, Q8_0 and Q4_0, a sink +
 * recent-window eviction baseline, and DeltaKV with compressors calibrated for the model (PCA, F16 or int4
 * latents). Prompts: the shared eval set ({@code evaldata/kvtiny-eval-4k-16k.jsonl}) and/or prompts made by
 * {@link TaskGenerator} with a fixed seed. Greedy decoding, exact match. Writes {@code accuracy.md} (table with
 * 95% Wilson intervals and measured KV bytes, rewritten after each configuration) and {@code accuracy.png}
 * (accuracy against memory) into the output folder; one line per prompt on stderr.
 *
 * <pre>
 * AccuracySuite --model kvtiny.gguf --out DIR [--evaldata kvtiny-eval-4k-16k.jsonl] [--per-task 8]
 *     [--generated N] [--seed 1] [--tasks niah_single,kv,...] [--lengths 4096,8192,16384]
 *     [--configs f16,q8_0,q4_0,pca32-int4,evict,...] [--full-layers 0,4] [--threads N] [--gpu-layers -1]
 * </pre>
 *
 * Configurations: a stock cache type ({@code f16}, {@code q8_0}, {@code q4_0}, ...); {@code pca<d>-<int4|int8|f16>}
 * with optional {@code -full<a.b>} (full layers, default {@code --full-layers}) and {@code -top<k|all>} (decode
 * top-k, default the side file's; {@code all} rebuilds every compressed token); {@code evict-<percent>}: sink
 * (64) + recent-window eviction keeping that share of each length cell's tokens, or {@code evict}: the share
 * the DeltaKV configuration listed before it measured at that length.
 */
@Command(name = "AccuracySuite", description = "Accuracy against KV memory of stock caches, eviction and DeltaKV.")
public final class AccuracySuite implements Callable<Integer> {

    /** One configuration's results: per (task, length) correct and total, and KV bytes and their F16 size per length. */
    record Outcome(String config, Map<String, int[]> cells, Map<Integer, double[]> memory) {
    }

    static final int EVICT_SINK = 64;

    @Spec
    CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help.")
    boolean help;

    @Option(names = "--model", paramLabel = "MODEL.gguf", description = "The model (required unless --merge).")
    Path model;

    @Option(names = "--out", defaultValue = "target/accuracy", paramLabel = "DIR",
            description = "Where accuracy.md and accuracy.png go (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--evaldata", paramLabel = "FILE", description = "Prompts of the shared eval set (JSON lines).")
    Path evaldata;

    @Option(names = "--per-task", defaultValue = "8", paramLabel = "N",
            description = "Eval-set prompts per task and length (default ${DEFAULT-VALUE}).")
    int perTask;

    @Option(names = "--generated", defaultValue = "0", paramLabel = "N",
            description = "Generated prompts per task and length (default ${DEFAULT-VALUE}).")
    int generated;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the generated prompts (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--tasks", split = ",", paramLabel = "a,b", description = "Only these tasks.")
    List<String> tasks;

    @Option(names = "--lengths", split = ",", defaultValue = "4096,8192,16384", paramLabel = "N,N",
            description = "Prompt lengths in tokens (default ${DEFAULT-VALUE}).")
    List<Integer> lengths;

    @Option(names = "--configs", split = ",", defaultValue = "f16,q8_0,q4_0,pca32-int4,pca64-int4,pca64-f16",
            paramLabel = "a,b", description = "Configurations, in order (default ${DEFAULT-VALUE}).")
    List<String> configs;

    @Option(names = "--full-layers", split = ",", defaultValue = "0,4", paramLabel = "N,N",
            description = "Full layers of the DeltaKV configurations (default ${DEFAULT-VALUE}).")
    List<Integer> fullLayers;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all cores).")
    Integer threads;

    @Option(names = "--gpu-layers", defaultValue = "-1", paramLabel = "N",
            description = "Layers on the GPU (default ${DEFAULT-VALUE}: all).")
    int gpuLayers;

    @Option(names = "--merge", split = ",", paramLabel = "a.md,b.md",
            description = "Join the tables of separate runs into one table and plot in --out.")
    List<Path> merge;

    private AccuracySuite() {
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the suite with these arguments and returns the exit code (0: done) instead of exiting. */
    public static int execute(String... args) {
        return new CommandLine(new AccuracySuite()).execute(args);
    }

    @Override
    public Integer call() throws IOException {
        String command = String.join(" ", spec.commandLine().getParseResult().originalArgs());
        Files.createDirectories(out);
        if (merge != null) { // tables of separate runs into one table and one plot
            List<Outcome> outcomes = Report.read(merge);
            List<Integer> merged = outcomes.stream().flatMap(o -> o.memory().keySet().stream()).distinct().sorted().toList();
            Report.write(out, outcomes, merged, "merged from " + merge.stream().map(Path::toString)
                    .collect(Collectors.joining(",")), fullLayers, command);
            return 0;
        }
        if (model == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--model'");
        }
        int threadCount = threads != null ? threads : Runtime.getRuntime().availableProcessors();

        List<Prompt> prompts = new ArrayList<>();
        if (evaldata != null) {
            prompts.addAll(load(evaldata, lengths, perTask));
        }
        if (generated > 0) {
            prompts.addAll(generate(model, lengths, generated, seed, tasks == null ? TaskGenerator.TASKS : tasks));
        }
        if (tasks != null) {
            prompts.removeIf(p -> !tasks.contains(p.task()));
        }
        if (prompts.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "no prompts: give --evaldata and/or --generated N");
        }

        List<Outcome> outcomes = new ArrayList<>();
        for (String config : configs) {
            outcomes.add(run(config, model, out, prompts, lengths, fullLayers, threadCount, gpuLayers, outcomes));
            Report.write(out, outcomes, lengths, prompts.size() + " prompts", fullLayers, command);
        }
        System.out.println("wrote " + out.resolve("accuracy.md") + " and " + out.resolve("accuracy.png"));
        return 0;
    }

    static List<Prompt> generate(Path model, List<Integer> lengths, int perTask, long seed, List<String> tasks) {
        List<Prompt> prompts = new ArrayList<>();
        int context = lengths.stream().mapToInt(Integer::intValue).max().orElse(4096) + 512;
        try (DeltaKvChatModel m = DeltaKvChatModel.builder().modelPath(model).contextSize(context).gpuLayers(0).build()) {
            TaskGenerator generator = new TaskGenerator(m.engine()::countPromptTokens, seed);
            for (int length : lengths) {
                for (String task : tasks) {
                    prompts.addAll(generator.generate(task, length, perTask));
                    System.err.printf("[accuracy] generated %s at %d%n", task, length);
                }
            }
        }
        return prompts;
    }

    static Outcome run(String config, Path model, Path out, List<Prompt> prompts, List<Integer> lengths,
                       List<Integer> fullLayers, int threads, int gpuLayers, List<Outcome> before) throws IOException {
        Map<String, int[]> cells = new LinkedHashMap<>();
        Map<Integer, double[]> memory = new LinkedHashMap<>(); // length -> {sum of bytes, sum of their F16 bytes}
        DeltaKvConfig deltaKv = config.startsWith("pca") ? deltaKv(config, model, out, fullLayers, threads) : null;
        for (int length : lengths) {
            List<Prompt> cell = prompts.stream().filter(p -> p.length() == length).toList();
            DeltaKvChatModel.Builder b = DeltaKvChatModel.builder().modelPath(model).contextSize(length + 512)
                    .batchSize(length + 512).maxSequences(1).threads(threads).gpuLayers(gpuLayers).flashAttention(true)
                    .temperature(0.0).maxTokens(48);
            if (deltaKv != null) {
                b.deltaKv(deltaKv);
            }
            int kept = 0; // eviction: the positions the cache keeps at most
            if (config.startsWith("evict")) {
                double share = config.equals("evict") ? Report.memoryRatio(lastDeltaKv(before), length)
                        : Integer.parseInt(config.substring(6)) / 100.0;
                int recent = Math.max(1, (int) Math.round(share * length) - EVICT_SINK);
                b.kvEviction(EVICT_SINK, recent);
                kept = EVICT_SINK + recent + 1;
            } else if (deltaKv == null) {
                b.kvCacheType(config);
            }
            try (DeltaKvChatModel m = b.build()) {
                int done = 0;
                for (Prompt pr : cell) {
                    long t0 = System.nanoTime();
                    ChatResponse r = m.chat(pr.messages());
                    String got = r.aiMessage().text() == null ? "" : r.aiMessage().text().strip();
                    boolean ok = got.equals(pr.answer());
                    int[] c = cells.computeIfAbsent(pr.task() + "@" + length, k -> new int[2]);
                    c[0] += ok ? 1 : 0;
                    c[1]++;
                    KvMemoryStats kv = m.engine().kvMemory();
                    double[] mem = memory.computeIfAbsent(length, k -> new double[2]);
                    if (kv.deltaKv() != null) {
                        mem[0] += kv.deltaKv().bytesUsed();
                        mem[1] += kv.deltaKv().bytesStock();
                    } else if (kept > 0) { // the held cells' bytes, and the same per cell for every position
                        mem[0] += kv.bytesHeld();
                        mem[1] += (double) kv.bytesHeld() * kv.tokensHeld() / Math.min(kept, kv.tokensHeld());
                    } else {
                        mem[0] += kv.bytesHeld();
                        mem[1] += kv.bytesHeld() * f16Factor(config);
                    }
                    System.err.printf("[accuracy] %-14s %5d %3d/%d %-13s %s %.1fs%n", config, length, ++done, cell.size(),
                            pr.task(), ok ? "ok  " : "MISS", (System.nanoTime() - t0) / 1e9);
                }
            }
        }
        // "evict" is named after the configuration whose memory it matched
        return new Outcome(config.equals("evict") ? "evict@" + lastDeltaKv(before).config() : config, cells, memory);
    }

    /**
     * pca<d>-<int4|int4r|int8|f16>[-full<a.b>][-top<k|all>]: a compressor calibrated for this model on the built-in
     * text (int4r: int4 latents in a rotated basis).
     */
    static DeltaKvConfig deltaKv(String config, Path model, Path out, List<Integer> defaultFull, int threads) throws IOException {
        String[] p = config.substring(3).split("-");
        int d = Integer.parseInt(p[0]);
        int bits = switch (p[1]) {
            case "int4", "int4r" -> 4;
            case "int8" -> 8;
            case "f16" -> 16;
            default -> throw new IllegalArgumentException("latent type int4, int4r, int8 or f16 expected in " + config);
        };
        boolean rotate = p[1].endsWith("r"); // int4r: int4 codes in a rotated latent basis
        List<Integer> full = defaultFull;
        Integer topK = null;
        for (int i = 2; i < p.length; i++) {
            if (p[i].startsWith("full")) {
                full = Arrays.stream(p[i].substring(4).split("\\.")).map(Integer::valueOf).toList();
            } else if (p[i].startsWith("top")) {
                topK = p[i].equals("topall") ? 1 << 30 : Integer.valueOf(p[i].substring(3));
            } else {
                throw new IllegalArgumentException("unknown part " + p[i] + " in " + config);
            }
        }
        String name = "pca" + d + "-" + p[1] + "-full" + full.stream().map(String::valueOf).collect(Collectors.joining("."));
        Path side = out.resolve(name + ".deltakv.gguf");
        if (!Files.exists(side)) {
            DeltaKvCalibrator.builder().modelPath(model).latentDim(d).latentBits(bits).rotateLatents(rotate)
                    .fullLayers(full).threads(threads).build().calibrate(side);
        }
        return DeltaKvConfig.builder().compressorPath(side).topK(topK).build();
    }

    /** The DeltaKV configuration listed last before this one (for {@code evict}). */
    static Outcome lastDeltaKv(List<Outcome> before) {
        for (int i = before.size() - 1; i >= 0; i--) {
            if (before.get(i).config().startsWith("pca")) {
                return before.get(i);
            }
        }
        throw new IllegalArgumentException("'evict' matches the memory of a DeltaKV configuration listed before it");
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

}

package io.github.deltakv.eval;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.internal.LlamaNative;
import io.github.deltakv.langchain4j.internal.NativeLoader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Reliability figures of the provider on this machine's device (issue 6): load / chat / close cycles, after
 * which native memory (RSS) and, with a GPU, the GPU's free memory return to where they were; and on a GPU a
 * context too large to fit, which must fail with an exception while a model loaded before it keeps answering.
 * Prints one {@code key=value} line per figure (and writes them to {@code --out}).
 *
 * <pre>Reliability --model GGUF [--cycles 200] [--gpu-layers -1] [--out FILE]</pre>
 */
@Command(name = "Reliability", description = "Load / chat / close cycles and, on a GPU, the out-of-memory probe.")
public final class Reliability implements Callable<Integer> {

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help.")
    boolean help;

    @Option(names = "--model", required = true, paramLabel = "GGUF", description = "The model.")
    Path model;

    @Option(names = "--cycles", defaultValue = "200", description = "Cycles (default ${DEFAULT-VALUE}).")
    int cycles;

    @Option(names = "--gpu-layers", defaultValue = "-1", paramLabel = "N",
            description = "Layers on the GPU (default ${DEFAULT-VALUE}: all).")
    int gpuLayers;

    @Option(names = "--out", paramLabel = "FILE", description = "Also write the figures here.")
    String out;

    private Reliability() {
    }

    /** Memory before and after a run of cycles (after two warm-up cycles). */
    public record Cycles(int cycles, long rssBeforeKiB, long rssAfterKiB, long gpuFreeBefore, long gpuFreeAfter,
                         long gpuFreeLowest) {

        public long rssGrowthKiB() {
            return rssAfterKiB - rssBeforeKiB;
        }

        /** Bytes of GPU memory not given back (0 without a GPU). */
        public long gpuNotReturned() {
            return gpuFreeBefore - gpuFreeAfter;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Reliability()).execute(args));
    }

    @Override
    public Integer call() {
        List<String> lines = new ArrayList<>();
        NativeLoader.load();
        lines.add("devices=" + String.join("; ", LlamaNative.devices()));
        lines.add("gpus=" + LlamaNative.gpuMemory().length / 2);
        Cycles c = cycles(model, cycles, gpuLayers, (i, n) -> {
            if (i % 20 == 0 || i == n) {
                System.err.printf(Locale.ROOT, "[reliability] cycle %d/%d%n", i, n);
            }
        });
        lines.add("cycles=" + c.cycles());
        lines.add("rss_before_kib=" + c.rssBeforeKiB());
        lines.add("rss_after_kib=" + c.rssAfterKiB());
        lines.add("rss_growth_kib=" + c.rssGrowthKiB());
        lines.add("gpu_free_before=" + c.gpuFreeBefore());
        lines.add("gpu_free_after=" + c.gpuFreeAfter());
        lines.add("gpu_free_lowest=" + c.gpuFreeLowest());
        lines.add("gpu_not_returned=" + c.gpuNotReturned());
        write(lines, out); // the cycles' figures stay even if the probe below fails
        if (LlamaNative.gpuMemory().length > 0) {
            lines.add("oom_exception=" + outOfMemory(model, gpuLayers).replace('\n', ' '));
            lines.add("oom_other_model_answered=true");
            write(lines, out);
        }
        lines.forEach(System.out::println);
        return 0;
    }

    private static void write(List<String> lines, String out) {
        if (out == null) {
            return;
        }
        try {
            Files.write(Path.of(out), lines);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Progress of the cycles. */
    public interface Progress {
        void cycleDone(int done, int total);
    }

    /** {@code n} load / chat / close cycles of {@code model} (two warm-up cycles first, not counted). */
    public static Cycles cycles(Path model, int n, int gpuLayers, Progress progress) {
        cycle(model, gpuLayers);
        cycle(model, gpuLayers);
        long rssBefore = rssKiB();
        long gpuBefore = gpuFree();
        long lowest = gpuBefore;
        for (int i = 1; i <= n; i++) {
            cycle(model, gpuLayers);
            lowest = Math.min(lowest, gpuFree());
            progress.cycleDone(i, n);
        }
        return new Cycles(n, rssBefore, rssKiB(), gpuBefore, gpuFree(), lowest);
    }

    /**
     * Asks for a context that cannot fit on the GPU while another model is loaded: returns the exception's
     * message; throws if no exception came or the other model stopped answering.
     */
    public static String outOfMemory(Path model, int gpuLayers) {
        try (DeltaKvChatModel other = chatModel(model, gpuLayers, 4096)) {
            // asked twice: the second answer reuses the cached prompt as the one after the failure will (on a GPU,
            // a prompt evaluated afresh and one taken from the cache may round differently)
            other.chat("Hello");
            String before = other.chat("Hello");
            DeltaKvEngine impossible = null;
            String message = null;
            int context = impossibleContext(other.engine());
            try {
                impossible = DeltaKvEngine.builder().modelPath(model).gpuLayers(gpuLayers)
                        .contextSize(context).build();
            } catch (RuntimeException e) {
                message = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
            if (impossible != null) {
                impossible.close();
                throw new IllegalStateException("a context of " + context + " tokens loaded");
            }
            String after = other.chat("Hello");
            if (!after.equals(before)) {
                throw new IllegalStateException("the other model answered '" + after + "' after the failure, '"
                        + before + "' before it");
            }
            return message;
        }
    }

    /** Tokens whose keys and values take twice the first GPU's memory (from a loaded engine's bytes per token). */
    static int impossibleContext(DeltaKvEngine loaded) {
        long[] gpu = LlamaNative.gpuMemory();
        long total = gpu.length == 0 ? Runtime.getRuntime().maxMemory() : gpu[1];
        double bytesPerToken = (double) loaded.kvMemory().bytesAllocated() / loaded.contextSize();
        return (int) Math.min(Integer.MAX_VALUE / 2, Math.ceil(2 * total / bytesPerToken));
    }

    private static void cycle(Path model, int gpuLayers) {
        try (DeltaKvChatModel m = chatModel(model, gpuLayers, 8192)) {
            m.chat("Hello");
        }
    }

    private static DeltaKvChatModel chatModel(Path model, int gpuLayers, int contextSize) {
        return DeltaKvChatModel.builder().modelPath(model).gpuLayers(gpuLayers).contextSize(contextSize)
                .threads(Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors())))
                .temperature(0.0).maxTokens(4).build();
    }

    /** Free bytes of the first GPU; 0 without one. */
    static long gpuFree() {
        long[] m = LlamaNative.gpuMemory();
        return m.length == 0 ? 0 : m[0];
    }

    static long rssKiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}

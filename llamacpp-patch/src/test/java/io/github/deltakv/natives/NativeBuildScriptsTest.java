package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The native build refuses what it must refuse: a download whose hash is wrong, a patch that does not
 * apply, and a CUDA backend built from other sources than the CPU build it would join. Each runs the real scripts on a copy of this module, with a cache of its own.
 */
class NativeBuildScriptsTest {

    private static final Path MODULE = Path.of("").toAbsolutePath();

    @TempDir
    Path tmp;

    @Test
    void staged_natives_list_their_libraries_in_build_info() throws IOException {
        Path dir = Path.of(System.getProperty("deltakv.native.dir", "target/none"));
        assumeTrue(Files.isDirectory(dir), "native build skipped (-DskipNative)");
        String info = Files.readString(dir.resolve("BUILD-INFO"));
        assertThat(info).contains("llama.commit=" + properties().getProperty("llama.commit"));
        for (String lib : Files.readAllLines(dir.resolve("natives.list"))) {
            assertThat(info).contains("sha256." + lib + "=");
            assertThat(dir.resolve(lib)).isRegularFile();
        }
        assertThat(dir.resolve("libdeltakv_jni.so")).isRegularFile();
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).anyMatch(n -> n.startsWith("libggml-cpu"));
        }
    }

    @Test
    void the_servers_package_runs_where_it_is_unpacked() throws Exception {
        Path dir = Path.of(System.getProperty("deltakv.native.dir", "target/none"));
        assumeTrue(Files.isRegularFile(dir.resolve("BUILD-INFO")), "native build skipped (-DskipNative)");
        Path tarball = tmp.resolve("deltakv-server.tar.gz");
        assertThat(exec(tmp, "bash", MODULE.resolve("scripts/package-server.sh").toString(), dir.toString(),
                tarball.toString()).exit).isZero();
        Path unpacked = Files.createDirectories(tmp.resolve("host"));
        assertThat(exec(unpacked, "tar", "xzf", tarball.toString()).exit).isZero();
        Path bin = unpacked.resolve("deltakv-server/bin");
        assertThat(bin.resolve("libdeltakv_jni.so")).doesNotExist();
        assertThat(unpacked.resolve("deltakv-server/LICENSE")).isRegularFile();

        // the programs load their libraries from their own folder, and the server knows the DeltaKV flags
        Result help = exec(unpacked, bin.resolve("llama-server").toString(), "--help");
        assertThat(help.exit).isZero();
        assertThat(help.output).contains("--deltakv FNAME", "--deltakv-top-k N");
        Result rpc = exec(unpacked, bin.resolve("ggml-rpc-server").toString(), "--help");
        assertThat(rpc.output).contains("--port PORT");
    }

    private Result exec(Path workDir, String... command) throws Exception {
        Path log = Files.createTempFile(tmp, "exec", ".log");
        Process p = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
        return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    @Test
    void a_wrong_tarball_hash_stops_the_build() throws Exception {
        Path copy = copyModule();
        Path props = copy.resolve("llama-source.properties");
        String text = Files.readString(props);
        String good = properties().getProperty("npm.tarball.sha256");
        Files.writeString(props, text.replace(good, "0".repeat(64)));

        Result r = run(copy, tmp.resolve("cache-hash"));

        assertThat(r.exit).isNotZero();
        assertThat(r.output).contains("sha256 is " + good).contains("expected " + "0".repeat(64));
    }

    @Test
    void a_patch_that_does_not_apply_stops_the_build() throws Exception {
        Path cache = cacheWithVerifiedSource("cache-patch");
        Path copy = copyModule();
        Files.writeString(copy.resolve("patches/9999-broken.patch"), String.join("\n",
                "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001",
                "From: test <test@localhost>",
                "Subject: [PATCH] broken",
                "",
                "---",
                "diff --git a/include/llama.h b/include/llama.h",
                "--- a/include/llama.h",
                "+++ b/include/llama.h",
                "@@ -1,3 +1,3 @@",
                "-this line is not in llama.h",
                "+nor is this one",
                " nor this",
                ""));

        Result r;
        try {
            r = run(copy, cache);
        } finally {
            unlinkSource(cache);
        }

        assertThat(r.exit).isNotZero();
        assertThat(r.output).contains("patch 9999-broken.patch does not apply");
    }

    @Test
    void a_cuda_backend_built_from_other_sources_is_refused() throws Exception {
        Path cache = cacheWithVerifiedSource("cache-cuda");
        Path backend = Files.createDirectories(tmp.resolve("backend"));
        Files.writeString(backend.resolve("libggml-cuda.so"), "a CUDA backend");
        Files.writeString(backend.resolve("BUILD-INFO"),
                "llama.commit=" + properties().getProperty("llama.commit") + "\ndeltakv.sources=0000000000000000\n");

        Result r;
        try {
            r = run(copyModule(), cache, "cuda", backend);
        } finally {
            unlinkSource(cache);
        }

        assertThat(r.exit).isNotZero();
        assertThat(r.output).contains("was built from other sources").contains("deltakv.sources=0000000000000000");
    }

    /** A cache of its own whose llama.cpp source is a link to the real cache's verified one (skips without it). */
    private Path cacheWithVerifiedSource(String name) throws IOException {
        String commit = properties().getProperty("llama.commit");
        Path pristine = realCache().resolve("src/llama-" + commit);
        assumeTrue(Files.isRegularFile(pristine.resolve(".deltakv-verified")), "no verified llama.cpp source in the cache yet");
        Path cache = tmp.resolve(name);
        Files.createDirectories(cache.resolve("src"));
        Files.createSymbolicLink(cache.resolve("src/llama-" + commit), pristine);
        return cache;
    }

    /** The link goes before the temp dir is cleaned: the shared source tree is not the temp dir's to delete. */
    private static void unlinkSource(Path cache) throws IOException {
        Files.delete(cache.resolve("src/llama-" + properties().getProperty("llama.commit")));
    }

    private record Result(int exit, String output) {
    }

    private Result run(Path module, Path cache) throws Exception {
        return run(module, cache, "cpu", null);
    }

    /** build-native.sh VARIANT on a module copy with a cache of its own (and DELTAKV_CUDA_BACKEND if given). */
    private Result run(Path module, Path cache, String variant, Path cudaBackend) throws Exception {
        Path log = tmp.resolve("build.log");
        ProcessBuilder pb = new ProcessBuilder("bash", module.resolve("scripts/build-native.sh").toString(), variant,
                tmp.resolve("out").toString()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("DELTAKV_CACHE", cache.toString());
        if (cudaBackend != null) {
            pb.environment().put("DELTAKV_CUDA_BACKEND", cudaBackend.toString());
        }
        Process p = pb.start();
        assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
        return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    private Path copyModule() throws IOException {
        Path copy = tmp.resolve("module");
        for (String entry : List.of("llama-source.properties", "CMakeLists.txt", "scripts", "patches", "llama.cpp", "jni", "tools",
                "compat")) {
            Path src = MODULE.resolve(entry);
            try (Stream<Path> files = Files.walk(src)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Path dst = copy.resolve(MODULE.relativize(f).toString());
                    if (Files.isDirectory(f)) {
                        Files.createDirectories(dst);
                    } else {
                        Files.createDirectories(dst.getParent());
                        Files.copy(f, dst);
                    }
                }
            }
        }
        return copy;
    }

    private static Properties properties() throws IOException {
        Properties p = new Properties();
        try (var in = Files.newInputStream(MODULE.resolve("llama-source.properties"))) {
            p.load(in);
        }
        return p;
    }

    private static Path realCache() {
        String env = System.getenv("DELTAKV_CACHE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        return Path.of(xdg != null && !xdg.isBlank() ? xdg : System.getProperty("user.home") + "/.cache", "langchain4j-deltakv");
    }
}

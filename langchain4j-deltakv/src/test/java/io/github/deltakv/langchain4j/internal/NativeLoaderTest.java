package io.github.deltakv.langchain4j.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.deltakv.langchain4j.DeltaKvException;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLoaderTest {

    @TempDir
    Path tmp;

    @Test
    void reads_library_hashes_from_build_info() {
        String info = "llama.commit=abc\nvariant=cpu\nsha256.libllama.so=00ff\nsha256.libdeltakv_jni.so=11ee\n";
        assertThat(NativeLoader.libraryHashes(info)).containsExactly(
                java.util.Map.entry("libllama.so", "00ff"), java.util.Map.entry("libdeltakv_jni.so", "11ee"));
    }

    @Test
    void extracts_into_a_folder_named_after_the_build_and_reuses_identical_files() throws Exception {
        byte[] lib = "fake library".getBytes(StandardCharsets.UTF_8);
        Path jarRoot = fakeNativesJar(lib, NativeLoader.sha256(lib));
        Path out = tmp.resolve("extract");

        Path dir = withClassLoader(jarRoot, () -> NativeLoader.extract("META-INF/native/deltakv/test/", "test", out));
        assertThat(dir.getParent().getFileName().toString()).startsWith("langchain4j-deltakv-");
        assertThat(dir.resolve("libfake.so")).hasBinaryContent(lib);
        assertThat(dir.resolve("natives.list")).hasContent("libfake.so");
        long modified = Files.getLastModifiedTime(dir.resolve("libfake.so")).toMillis();

        Thread.sleep(20);
        Path again = withClassLoader(jarRoot, () -> NativeLoader.extract("META-INF/native/deltakv/test/", "test", out));
        assertThat(again).isEqualTo(dir);
        assertThat(Files.getLastModifiedTime(dir.resolve("libfake.so")).toMillis()).isEqualTo(modified);
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".part"));
        }
    }

    @Test
    void refuses_a_library_whose_hash_does_not_match() throws Exception {
        Path jarRoot = fakeNativesJar("tampered".getBytes(StandardCharsets.UTF_8), "00".repeat(32));
        assertThatThrownBy(() -> withClassLoader(jarRoot,
                () -> NativeLoader.extract("META-INF/native/deltakv/test/", "test", tmp.resolve("x"))))
                .isInstanceOf(DeltaKvException.class)
                .hasMessageContaining("corrupt");
    }

    private Path fakeNativesJar(byte[] lib, String sha) throws IOException {
        Path root = tmp.resolve("jar");
        Path dir = Files.createDirectories(root.resolve("META-INF/native/deltakv/test"));
        Files.write(dir.resolve("libfake.so"), lib);
        Files.writeString(dir.resolve("natives.list"), "libfake.so");
        Files.writeString(dir.resolve("BUILD-INFO"), "variant=test\nsha256.libfake.so=" + sha + "\n");
        return root;
    }

    /** Runs {@code action} with the fake jar first on the context of NativeLoader's resource lookups. */
    private static <T> T withClassLoader(Path root, java.util.concurrent.Callable<T> action) throws Exception {
        ClassLoader original = Thread.currentThread().getContextClassLoader();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {root.toUri().toURL()}, original)) {
            Thread.currentThread().setContextClassLoader(loader);
            return action.call();
        } finally {
            Thread.currentThread().setContextClassLoader(original);
        }
    }
}

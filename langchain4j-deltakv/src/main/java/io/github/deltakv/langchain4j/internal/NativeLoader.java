package io.github.deltakv.langchain4j.internal;

import io.github.deltakv.langchain4j.DeltaKvException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds and loads the native libraries (patched llama.cpp + libdeltakv_jni), once per JVM.
 *
 * <p>Where it looks, in order:
 * <ol>
 *   <li>the folder in system property {@code deltakv.native.path} or environment variable
 *       {@code DELTAKV_NATIVE_PATH};</li>
 *   <li>each folder of {@code java.library.path} that holds {@code libdeltakv_jni.so};</li>
 *   <li>a natives jar on the class path ({@code META-INF/native/deltakv/<classifier>/}), CUDA variant first
 *       (the CPU one when the CUDA one's libraries do not load), extracted into
 *       {@code <deltakv.tmpdir or java.io.tmpdir>/langchain4j-deltakv-<build hash>/} with atomic moves, so
 *       concurrent JVMs never see a half-written library.</li>
 * </ol>
 * A folder holds {@code natives.list} (load order) and {@code BUILD-INFO} (build facts and the sha256
 * of every library).
 */
public final class NativeLoader {

    private static final Logger LOG = LoggerFactory.getLogger(NativeLoader.class);

    static final String JNI_LIBRARY = "libdeltakv_jni.so";
    static final String RESOURCE_ROOT = "META-INF/native/deltakv/";
    /** Classifiers in order of preference. */
    static final List<String> CLASSIFIERS = List.of("linux-x86_64-cuda13", "linux-x86_64");

    private static Path loadedFrom;
    /** Set when the loaded natives cannot run on this machine's GPUs: every later load fails with it too. */
    private static DeltaKvException unusable;

    private NativeLoader() {
    }

    /** Loads the libraries if not yet loaded; returns the folder they were loaded from. */
    public static synchronized Path load() {
        if (unusable != null) {
            throw unusable;
        }
        if (loadedFrom != null) {
            return loadedFrom;
        }
        Path dir = configuredFolder();
        if (dir != null) {
            loadFrom(dir);
        } else {
            dir = loadFromJar();
        }
        loadedFrom = dir;
        List<String> devices = List.of(LlamaNative.devices());
        LOG.info("DeltaKV natives loaded from {} (devices: {})", dir, String.join(", ", devices));
        boolean cudaBackendLoaded = devices.stream().anyMatch(d -> d.startsWith("CUDA"));
        if (Files.isRegularFile(dir.resolve("libggml-cuda.so")) && !cudaBackendLoaded) {
            LOG.info("the CUDA backend did not load (it needs an NVIDIA GPU and driver and the CUDA 13 runtime with "
                    + "cuBLAS on the library path): running on the CPU");
        }
        if (cudaBackendLoaded) {
            try {
                checkCudaArchitectures(dir);
            } catch (DeltaKvException e) {
                unusable = e;
                throw e;
            }
        }
        return dir;
    }

    /** Refuses GPUs the CUDA code was not built for: ggml would end the process at their first kernel. */
    private static void checkCudaArchitectures(Path dir) {
        String flags = "";
        try {
            for (String line : Files.readAllLines(dir.resolve("BUILD-INFO"))) {
                if (line.startsWith("cuda.backend.flags=") || (line.startsWith("flags=") && flags.isEmpty())) {
                    flags = line;
                }
            }
        } catch (IOException e) {
            return; // no BUILD-INFO: nothing to compare
        }
        CudaArchitectures archs = new CudaArchitectures(LlamaNative.CUDA_DEVICE_LINES, flags);
        String unsupported = archs.unsupported();
        if (!unsupported.isEmpty()) {
            throw new DeltaKvException("the CUDA natives in " + dir + " hold code for " + archs.built() + ", which "
                    + unsupported + " cannot run: use the CPU natives, or build the CUDA natives for this GPU "
                    + "(DELTAKV_CUDA_ARCHS, docs/building.md)");
        }
        LOG.info("CUDA code for {} runs on {}", archs.built(), archs.gpus());
    }

    /** The folder named by the user or found on {@code java.library.path}; null if none. */
    private static Path configuredFolder() {
        String configured = System.getProperty("deltakv.native.path", System.getenv("DELTAKV_NATIVE_PATH"));
        if (configured != null && !configured.isBlank()) {
            Path dir = Path.of(configured);
            if (!Files.isRegularFile(dir.resolve(JNI_LIBRARY))) {
                throw new DeltaKvException("deltakv.native.path / DELTAKV_NATIVE_PATH is " + dir
                        + ", which holds no " + JNI_LIBRARY);
            }
            return dir;
        }
        for (String entry : System.getProperty("java.library.path", "").split(java.io.File.pathSeparator)) {
            if (!entry.isBlank() && Files.isRegularFile(Path.of(entry, JNI_LIBRARY))) {
                return Path.of(entry);
            }
        }
        return null;
    }

    /**
     * Extracts and loads the first natives jar on the class path whose libraries load here, CUDA variant first. A
     * variant whose first library does not load (a C library older than its build needs, say) leaves nothing in
     * the process, so the next is tried. Without a GPU the CUDA variant loads and ggml skips its CUDA backend.
     */
    private static Path loadFromJar() {
        if (!System.getProperty("os.name", "").toLowerCase().startsWith("linux")
                || !System.getProperty("os.arch", "").matches("amd64|x86_64")) {
            throw new DeltaKvException("no DeltaKV natives for " + System.getProperty("os.name") + " "
                    + System.getProperty("os.arch") + " (only linux x86_64 is built so far)");
        }
        DeltaKvException firstFailure = null;
        for (String classifier : CLASSIFIERS) {
            String base = RESOURCE_ROOT + classifier + "/";
            if (resource(base + "BUILD-INFO") == null) {
                continue;
            }
            Path dir = extract(base, classifier, extractionRoot());
            try {
                loadFrom(dir);
                return dir;
            } catch (NothingLoaded e) {
                LOG.warn("DeltaKV natives {} do not load here, trying the next: {}", classifier, e.getMessage());
                firstFailure = firstFailure == null ? e : firstFailure;
            }
        }
        if (firstFailure != null) {
            throw firstFailure;
        }
        throw new DeltaKvException("DeltaKV natives not found: add io.github.deltakv:langchain4j-deltakv-natives "
                + "(classifier linux-x86_64 or linux-x86_64-cuda13) to the class path, or point "
                + "-Ddeltakv.native.path at a folder holding " + JNI_LIBRARY);
    }

    private static Path extractionRoot() {
        return Path.of(System.getProperty("deltakv.tmpdir", System.getProperty("java.io.tmpdir")));
    }

    /** Extracts one classifier's libraries into a folder named after the build, reusing identical files. */
    static Path extract(String base, String classifier, Path root) {
        try {
            byte[] buildInfo = readResource(base + "BUILD-INFO");
            Map<String, String> sha256ByFile = libraryHashes(new String(buildInfo, StandardCharsets.UTF_8));
            String buildHash = sha256(buildInfo).substring(0, 16);
            Path dir = root.resolve("langchain4j-deltakv-" + buildHash).resolve(classifier);
            Files.createDirectories(dir);
            List<String> files = new ArrayList<>(sha256ByFile.keySet());
            files.add("natives.list");
            for (String file : files) {
                Path target = dir.resolve(file);
                String expected = sha256ByFile.get(file);
                if (expected != null && Files.isRegularFile(target)
                        && expected.equals(sha256(Files.readAllBytes(target)))) {
                    continue; // already extracted, identical
                }
                byte[] content = readResource(base + file);
                if (expected != null && !expected.equals(sha256(content))) {
                    throw new DeltaKvException("natives jar is corrupt: " + file + " does not match its sha256");
                }
                Path tmp = Files.createTempFile(dir, file, ".part");
                Files.write(tmp, content);
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            LOG.debug("natives {} extracted to {}", classifier, dir);
            return dir;
        } catch (IOException e) {
            throw new DeltaKvException("cannot extract the DeltaKV natives into " + root + ": " + e.getMessage(), e);
        }
    }

    /** The sha256 of each library named in BUILD-INFO ({@code sha256.<file>=<hex>} lines). */
    static Map<String, String> libraryHashes(String buildInfo) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : buildInfo.split("\n")) {
            if (line.startsWith("sha256.")) {
                int eq = line.indexOf('=');
                out.put(line.substring("sha256.".length(), eq), line.substring(eq + 1).trim());
            }
        }
        return out;
    }

    private static void loadFrom(Path dir) {
        List<String> order;
        try {
            Path list = dir.resolve("natives.list");
            order = Files.isRegularFile(list)
                    ? Files.readAllLines(list).stream().map(String::trim).filter(s -> !s.isEmpty()).toList()
                    : Arrays.asList("libggml-base.so", "libggml.so", "libllama.so", "libllama-common.so", JNI_LIBRARY);
        } catch (IOException e) {
            throw new DeltaKvException("cannot read " + dir.resolve("natives.list") + ": " + e.getMessage(), e);
        }
        boolean anyLoaded = false;
        for (String lib : order) {
            Path path = dir.resolve(lib).toAbsolutePath();
            if (!Files.isRegularFile(path)) {
                continue; // a library linked statically in this build
            }
            try {
                System.load(path.toString());
                anyLoaded = true;
            } catch (UnsatisfiedLinkError e) {
                String message = "cannot load native library " + path + ": " + e.getMessage();
                throw anyLoaded ? new DeltaKvException(message, e) : new NothingLoaded(message, e);
            }
        }
        LlamaNative.initBackends(dir.toAbsolutePath().toString());
    }

    /** A folder's first library did not load, so none of the folder is in the process. */
    private static final class NothingLoaded extends DeltaKvException {
        NothingLoaded(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A class-path resource, from the thread's context class loader first (application servers), then ours. */
    private static InputStream resource(String name) {
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        InputStream in = context == null ? null : context.getResourceAsStream(name);
        return in != null ? in : NativeLoader.class.getClassLoader().getResourceAsStream(name);
    }

    private static byte[] readResource(String name) throws IOException {
        try (InputStream in = resource(name)) {
            if (in == null) {
                throw new DeltaKvException("natives jar is incomplete: " + name + " is missing");
            }
            return in.readAllBytes();
        }
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

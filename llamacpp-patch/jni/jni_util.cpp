#include "jni_util.h"

#include "llama.h"

#include <cstdio>
#include <deque>
#include <stdexcept>
#include <mutex>

namespace dkv {

void throw_java(JNIEnv * env, const std::string & message) {
    if (env->ExceptionCheck()) {
        return; // a Java exception is already pending (e.g. from a callback): keep it
    }
    jclass cls = env->FindClass(EXCEPTION_CLASS);
    if (cls == nullptr) {
        return; // NoClassDefFoundError is pending
    }
    env->ThrowNew(cls, message.c_str());
}

std::string bytes_to_string(JNIEnv * env, jbyteArray bytes) {
    if (bytes == nullptr) {
        return {};
    }
    const jsize n = env->GetArrayLength(bytes);
    std::string out((size_t) n, '\0');
    env->GetByteArrayRegion(bytes, 0, n, reinterpret_cast<jbyte *>(out.data()));
    return out;
}

jbyteArray string_to_bytes(JNIEnv * env, const std::string & s) {
    jbyteArray out = env->NewByteArray((jsize) s.size());
    if (out != nullptr) {
        env->SetByteArrayRegion(out, 0, (jsize) s.size(), reinterpret_cast<const jbyte *>(s.data()));
    }
    return out;
}

std::string jstring_to_utf8(JNIEnv * env, jstring str) {
    if (str == nullptr) {
        return {};
    }
    // String.getBytes(UTF_8) gives real UTF-8 (GetStringUTFChars gives modified UTF-8)
    jclass    cls = env->GetObjectClass(str);
    jmethodID get = env->GetMethodID(cls, "getBytes", "(Ljava/lang/String;)[B");
    jstring   cs  = env->NewStringUTF("UTF-8");
    auto bytes = (jbyteArray) env->CallObjectMethod(str, get, cs);
    if (env->ExceptionCheck()) {
        return {};
    }
    return bytes_to_string(env, bytes);
}

jstring utf8_to_jstring(JNIEnv * env, const std::string & s) {
    jbyteArray bytes = string_to_bytes(env, s);
    jclass    cls  = env->FindClass("java/lang/String");
    jmethodID ctor = env->GetMethodID(cls, "<init>", "([BLjava/lang/String;)V");
    jstring   cs   = env->NewStringUTF("UTF-8");
    return (jstring) env->NewObject(cls, ctor, bytes, cs);
}

jobjectArray to_jstrings(JNIEnv * env, const std::vector<std::string> & strings) {
    jobjectArray out = env->NewObjectArray((jsize) strings.size(), env->FindClass("java/lang/String"), nullptr);
    for (size_t i = 0; out != nullptr && i < strings.size(); ++i) {
        jstring s = utf8_to_jstring(env, strings[i]);
        env->SetObjectArrayElement(out, (jsize) i, s);
        env->DeleteLocalRef(s);
    }
    return out;
}

std::vector<std::string> from_jstrings(JNIEnv * env, jobjectArray array) {
    std::vector<std::string> out;
    for (jsize i = 0; array != nullptr && i < env->GetArrayLength(array); ++i) {
        auto * s = static_cast<jstring>(env->GetObjectArrayElement(array, i));
        out.push_back(jstring_to_utf8(env, s));
        env->DeleteLocalRef(s);
    }
    return out;
}

// --- logging --------------------------------------------------------------------------------

static JavaVM *   g_vm      = nullptr;
static jclass     g_log_cls = nullptr; // global ref to LlamaNative
static jmethodID  g_log_mid = nullptr; // static void onLog(int level, byte[] line)

static thread_local std::string             t_line;       // partial line being assembled
static thread_local ggml_log_level          t_line_level = GGML_LOG_LEVEL_INFO;
static thread_local std::deque<std::string> t_recent;     // recent warnings and errors

static void forward_line(ggml_log_level level, const std::string & line) {
    if (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR) {
        t_recent.push_back(line);
        if (t_recent.size() > 8) {
            t_recent.pop_front();
        }
    }
    if (g_vm == nullptr || g_log_mid == nullptr) {
        return;
    }
    JNIEnv * env = nullptr;
    if (g_vm->GetEnv(reinterpret_cast<void **>(&env), JNI_VERSION_1_8) != JNI_OK) {
        // a native worker thread: attach it as a daemon so it never blocks JVM exit
        if (g_vm->AttachCurrentThreadAsDaemon(reinterpret_cast<void **>(&env), nullptr) != JNI_OK) {
            return;
        }
    }
    if (env->ExceptionCheck()) {
        return; // never call Java with an exception pending
    }
    jbyteArray bytes = string_to_bytes(env, line);
    env->CallStaticVoidMethod(g_log_cls, g_log_mid, (jint) level, bytes);
    env->DeleteLocalRef(bytes);
    if (env->ExceptionCheck()) {
        env->ExceptionClear(); // a failing logger must not break decoding
    }
}

static void log_callback(ggml_log_level level, const char * text, void * /*user_data*/) {
    if (text == nullptr) {
        return;
    }
    if (level != GGML_LOG_LEVEL_CONT) {
        t_line_level = level;
    }
    for (const char * p = text; *p; ++p) {
        if (*p == '\n') {
            forward_line(t_line_level, t_line);
            t_line.clear();
        } else {
            t_line.push_back(*p);
        }
    }
}

void install_log_forwarding(JNIEnv * env) {
    env->GetJavaVM(&g_vm);
    jclass cls = env->FindClass("io/github/deltakv/langchain4j/internal/LlamaNative");
    if (cls == nullptr) {
        return;
    }
    g_log_cls = (jclass) env->NewGlobalRef(cls);
    g_log_mid = env->GetStaticMethodID(cls, "onLog", "(I[B)V");
    if (g_log_mid == nullptr) {
        env->ExceptionClear();
        return;
    }
    llama_log_set(log_callback, nullptr);
}

static thread_local int t_aborts_throw = 0;

aborts_throw::aborts_throw() { t_aborts_throw++; }
aborts_throw::~aborts_throw() { t_aborts_throw--; }

static void on_ggml_abort(const char * message) {
    if (t_aborts_throw > 0) {
        throw std::runtime_error(message);
    }
    fprintf(stderr, "%s\n", message); // ggml aborts the process right after
}

void install_abort_handler() {
    ggml_set_abort_callback(on_ggml_abort);
}

void clear_recent_errors() {
    t_recent.clear();
}

std::string recent_errors() {
    std::string out;
    for (const auto & line : t_recent) {
        if (!out.empty()) {
            out += "; ";
        }
        out += line;
    }
    return out;
}

} // namespace dkv

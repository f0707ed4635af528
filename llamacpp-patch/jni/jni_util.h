// Helpers at the JNI boundary: exceptions, byte/string conversion, native log capture.
#pragma once

#include <jni.h>

#include <string>
#include <vector>

namespace dkv {

// Java class of every error this library raises (a RuntimeException).
constexpr const char * EXCEPTION_CLASS = "io/github/deltakv/langchain4j/DeltaKvException";

// Raise a DeltaKvException in Java (the caller returns right after).
void throw_java(JNIEnv * env, const std::string & message);

// UTF-8 bytes of a Java byte[] / a Java String (true UTF-8, not JNI's modified UTF-8).
std::string bytes_to_string(JNIEnv * env, jbyteArray bytes);
std::string jstring_to_utf8(JNIEnv * env, jstring str);
jbyteArray  string_to_bytes(JNIEnv * env, const std::string & s);
jstring     utf8_to_jstring(JNIEnv * env, const std::string & s);
// A Java String[] of UTF-8 strings and back (a null array gives no strings).
jobjectArray             to_jstrings(JNIEnv * env, const std::vector<std::string> & strings);
std::vector<std::string> from_jstrings(JNIEnv * env, jobjectArray array);

// Native log lines: forwarded to Java (LlamaNative.onLog) and the recent warnings and errors
// kept per thread, so that an exception can say what llama.cpp said before it failed.
void        install_log_forwarding(JNIEnv * env);

// ggml aborts the process on a failed GGML_ASSERT. While one of these guards lives on a thread (model
// loading, context creation), an assert on that thread throws std::runtime_error instead, so that a
// corrupt file becomes a Java exception. Elsewhere (e.g. ggml's worker threads) an assert still aborts.
void install_abort_handler();
struct aborts_throw {
    aborts_throw();
    ~aborts_throw();
};
void        clear_recent_errors();
std::string recent_errors();

} // namespace dkv

// Wrap a JNI function body: C++ exceptions become DeltaKvException, never a JVM crash.
#define DKV_TRY try {
#define DKV_CATCH(env, ret)                                             \
    } catch (const std::exception & e) {                                \
        dkv::throw_java(env, e.what());                                 \
        return ret;                                                     \
    } catch (...) {                                                     \
        dkv::throw_java(env, "unknown native error");                   \
        return ret;                                                     \
    }

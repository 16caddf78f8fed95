// Clang thread-safety analysis attributes (-Wthread-safety). Under other
// compilers they expand to nothing. Use them on the annotated lock types of
// common/mutex.h: a member `GUARDED_BY(mu_)` may only be touched with `mu_`
// held, and clang checks it at compile time.
#pragma once

#if defined(__clang__)
#define DEDUP_THREAD_ATTRIBUTE(x) __attribute__((x))
#else
#define DEDUP_THREAD_ATTRIBUTE(x)
#endif

#define CAPABILITY(x) DEDUP_THREAD_ATTRIBUTE(capability(x))
#define SCOPED_CAPABILITY DEDUP_THREAD_ATTRIBUTE(scoped_lockable)
#define GUARDED_BY(x) DEDUP_THREAD_ATTRIBUTE(guarded_by(x))
#define PT_GUARDED_BY(x) DEDUP_THREAD_ATTRIBUTE(pt_guarded_by(x))
#define REQUIRES(...) DEDUP_THREAD_ATTRIBUTE(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) DEDUP_THREAD_ATTRIBUTE(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) DEDUP_THREAD_ATTRIBUTE(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) DEDUP_THREAD_ATTRIBUTE(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) DEDUP_THREAD_ATTRIBUTE(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) DEDUP_THREAD_ATTRIBUTE(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) DEDUP_THREAD_ATTRIBUTE(release_generic_capability(__VA_ARGS__))
#define EXCLUDES(...) DEDUP_THREAD_ATTRIBUTE(locks_excluded(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS DEDUP_THREAD_ATTRIBUTE(no_thread_safety_analysis)

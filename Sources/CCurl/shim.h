// Swift cannot call C variadic functions: each argument type of curl_easy_setopt,
// curl_easy_getinfo and curl_multi_setopt that plansync uses gets a typed wrapper.
#ifndef PLANSYNC_CCURL_SHIM_H
#define PLANSYNC_CCURL_SHIM_H

#include <curl/curl.h>

/// Write and header callbacks: (data, 1, length, context) -> bytes taken.
typedef size_t (*plansync_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode plansync_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plansync_easy_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plansync_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plansync_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plansync_easy_setopt_list(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plansync_easy_setopt_callback(CURL *handle, CURLoption option, plansync_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode plansync_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode plansync_easy_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode plansync_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLMcode plansync_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

#endif

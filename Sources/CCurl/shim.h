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

// ---- Where a transfer may connect (checked on the resolved address, before connecting) ----

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/// Address classes: what a resolved address is.
enum {
    PLANSYNC_ADDRESS_PUBLIC = 0,
    PLANSYNC_ADDRESS_LOOPBACK = 1,   // 127/8, 0/8, ::1, ::
    PLANSYNC_ADDRESS_PRIVATE = 2,    // 10/8, 172.16/12, 192.168/16, 100.64/10, 198.18/15, fc00::/7, fec0::/10
    PLANSYNC_ADDRESS_LINK_LOCAL = 3, // 169.254/16 (cloud metadata), fe80::/10
    PLANSYNC_ADDRESS_RESERVED = 4,   // multicast, 240/4, broadcast, ff00::/8
};

/// One transfer's policy, and what it refused. Lives as long as the transfer's handle.
typedef struct {
    CURL *handle;
    /// The configured URL's host, lowercased (connections to it may reach loopback and private addresses).
    char configured_host[256];
    int allow_link_local;
    /// A proxy from the environment: its (possibly private) address is allowed; it resolves targets itself.
    int proxy;
    /// Set when a connection was refused: the address class, the address and the host.
    int refused;
    char refused_address[INET6_ADDRSTRLEN];
    char refused_host[256];
} plansync_address_policy;

static inline int plansync_ipv4_class(const unsigned char *b) {
    if (b[0] == 127 || b[0] == 0) return PLANSYNC_ADDRESS_LOOPBACK;
    if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xF0) == 16) || (b[0] == 192 && b[1] == 168)
        || (b[0] == 100 && (b[1] & 0xC0) == 64) || (b[0] == 198 && (b[1] & 0xFE) == 18)) return PLANSYNC_ADDRESS_PRIVATE;
    if (b[0] == 169 && b[1] == 254) return PLANSYNC_ADDRESS_LINK_LOCAL;
    if (b[0] >= 224) return PLANSYNC_ADDRESS_RESERVED;
    return PLANSYNC_ADDRESS_PUBLIC;
}

/// The class of an IPv4 or IPv6 socket address (IPv4-mapped and NAT64 addresses by their IPv4 part).
static inline int plansync_address_class(const struct sockaddr *address) {
    if (address->sa_family == AF_INET) {
        return plansync_ipv4_class((const unsigned char *)&((const struct sockaddr_in *)address)->sin_addr);
    }
    if (address->sa_family != AF_INET6) return PLANSYNC_ADDRESS_PUBLIC;
    const unsigned char *b = ((const struct sockaddr_in6 *)address)->sin6_addr.s6_addr;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const unsigned char nat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char zero[15] = {0};
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) return plansync_ipv4_class(b + 12);
    if (memcmp(b, zero, 15) == 0 && (b[15] == 1 || b[15] == 0)) return PLANSYNC_ADDRESS_LOOPBACK;
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return PLANSYNC_ADDRESS_LINK_LOCAL;
    if ((b[0] & 0xFE) == 0xFC || (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0)) return PLANSYNC_ADDRESS_PRIVATE;
    if (b[0] == 0xFF) return PLANSYNC_ADDRESS_RESERVED;
    return PLANSYNC_ADDRESS_PUBLIC;
}

/// The lowercased host of `url` into `out` (empty when it has none).
static inline void plansync_url_host(const char *url, char *out, size_t size) {
    out[0] = 0;
    CURLU *u = curl_url();
    if (!u) return;
    char *host = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
        size_t i = 0;
        for (; host[i] && i + 1 < size; i++) out[i] = (host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32 : host[i];
        out[i] = 0;
        curl_free(host);
    }
    curl_url_cleanup(u);
}

/// CURLOPT_OPENSOCKETFUNCTION: refuses, before connecting, a loopback or private address unless
/// the host being connected is the configured one (a redirect elsewhere never reaches them), a
/// link-local address unless allowed, and reserved addresses always.
static curl_socket_t plansync_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address) {
    plansync_address_policy *policy = (plansync_address_policy *)clientp;
    (void)purpose;
    if (address->family == AF_INET || address->family == AF_INET6) {
        int kind = plansync_address_class(&address->addr);
        int allowed = kind == PLANSYNC_ADDRESS_PUBLIC;
        char host[256] = {0};
        if (!allowed) {
            char *url = NULL;
            if (curl_easy_getinfo(policy->handle, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url) {
                plansync_url_host(url, host, sizeof host);
            }
            int configured = host[0] && strcmp(host, policy->configured_host) == 0;
            if (kind == PLANSYNC_ADDRESS_LINK_LOCAL) allowed = policy->allow_link_local;
            else if (kind == PLANSYNC_ADDRESS_LOOPBACK || kind == PLANSYNC_ADDRESS_PRIVATE) allowed = configured || policy->proxy;
        }
        if (!allowed) {
            policy->refused = kind;
            const void *raw = address->family == AF_INET ? (const void *)&((const struct sockaddr_in *)&address->addr)->sin_addr
                                                         : (const void *)&((const struct sockaddr_in6 *)&address->addr)->sin6_addr;
            if (!inet_ntop(address->family, raw, policy->refused_address, sizeof policy->refused_address)) policy->refused_address[0] = 0;
            memcpy(policy->refused_host, host, sizeof policy->refused_host);
            return CURL_SOCKET_BAD;
        }
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

/// Installs `policy` on `handle` for the configured `url`.
static inline void plansync_easy_set_address_policy(CURL *handle, plansync_address_policy *policy, const char *url,
                                                     int allow_link_local, int proxy) {
    memset(policy, 0, sizeof *policy);
    policy->handle = handle;
    policy->allow_link_local = allow_link_local;
    policy->proxy = proxy;
    plansync_url_host(url, policy->configured_host, sizeof policy->configured_host);
    curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, plansync_open_socket);
    curl_easy_setopt(handle, CURLOPT_OPENSOCKETDATA, policy);
}

#endif

/* --net parsing and the attachment constructor (see hostnet.h). */
#include "hostio/hostnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "1234" -> 1..65535 */
static int parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* "" -> 0 (any), "a.b.c.d" -> address */
static int parse_addr(const char *s, size_t len, uint32_t *addr)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a;

	*addr = 0;
	if (len == 0)
		return 0;
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*addr = a.s_addr;
	return 0;
}

/* [ADDR:]PORT within [s, s+len) */
static int parse_endpoint(const char *s, size_t len, uint32_t *addr,
			  uint16_t *port)
{
	const char *colon = memrchr(s, ':', len);

	if (!colon) {
		*addr = 0;
		return parse_port(s, len, port);
	}
	if (parse_addr(s, (size_t)(colon - s), addr))
		return -EINVAL;
	return parse_port(colon + 1, len - (size_t)(colon - s) - 1, port);
}

/* tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT (QEMU's syntax) */
static int parse_fwd(const char *s, size_t len, struct hostnet_fwd *f)
{
	const char *dash;

	memset(f, 0, sizeof(*f));
	if (len > 4 && !memcmp(s, "tcp:", 4)) {
		s += 4, len -= 4;
	} else if (len > 4 && !memcmp(s, "udp:", 4)) {
		f->udp = true;
		s += 4, len -= 4;
	} else {
		return -EINVAL;
	}
	dash = memchr(s, '-', len);
	if (!dash)
		return -EINVAL;
	if (parse_endpoint(s, (size_t)(dash - s), &f->host_addr, &f->host_port))
		return -EINVAL;
	len -= (size_t)(dash - s) + 1;
	return parse_endpoint(dash + 1, len, &f->guest_addr, &f->guest_port);
}

static int parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	if (len != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int j = 0; j < 2; j++) {
			char c = s[i * 3 + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -EINVAL;
		}
		if (i < 5 && s[i * 3 + 2] != ':')
			return -EINVAL;
		mac[i] = (uint8_t)v;
	}
	/* A guest NIC needs a unicast address. */
	return (mac[0] & 1) ? -EINVAL : 0;
}

#define KEY(s, len, k) ((len) > sizeof(k) - 1 && !memcmp((s), k, sizeof(k) - 1))

int hostnet_parse(const char *spec, struct hostnet_config *cfg, char *err,
		  size_t err_len)
{
	const char *p = spec, *end;
	size_t len;

	memset(cfg, 0, sizeof(*cfg));
	end = strchr(p, ',');
	len = end ? (size_t)(end - p) : strlen(p);
	if (len == 4 && !memcmp(p, "user", 4)) {
		cfg->kind = HOSTNET_USER;
	} else if (len == 3 && !memcmp(p, "tap", 3)) {
		cfg->kind = HOSTNET_TAP;
	} else {
		snprintf(err, err_len,
			 "--net: '%.*s' is not a network type (user or tap)",
			 (int)len, p);
		return -EINVAL;
	}
	while (end) {
		p = end + 1;
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		if (KEY(p, len, "hostfwd=") && cfg->kind == HOSTNET_USER) {
			if (cfg->nr_fwd == HOSTNET_MAX_FWD) {
				snprintf(err, err_len, "--net: more than %d hostfwd rules",
					 HOSTNET_MAX_FWD);
				return -EINVAL;
			}
			if (parse_fwd(p + 8, len - 8, &cfg->fwd[cfg->nr_fwd])) {
				snprintf(err, err_len,
					 "--net: bad rule '%.*s' (hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT)",
					 (int)len, p);
				return -EINVAL;
			}
			cfg->nr_fwd++;
		} else if (KEY(p, len, "ifname=") && cfg->kind == HOSTNET_TAP) {
			if (len - 7 >= sizeof(cfg->ifname) ||
			    memchr(p + 7, '/', len - 7)) {
				snprintf(err, err_len, "--net: bad interface name '%.*s'",
					 (int)(len - 7), p + 7);
				return -EINVAL;
			}
			memcpy(cfg->ifname, p + 7, len - 7);
			cfg->ifname[len - 7] = '\0';
		} else if (KEY(p, len, "mac=")) {
			if (parse_mac(p + 4, len - 4, cfg->mac)) {
				snprintf(err, err_len,
					 "--net: '%.*s' is not a unicast MAC address",
					 (int)(len - 4), p + 4);
				return -EINVAL;
			}
			cfg->mac_set = true;
		} else {
			snprintf(err, err_len, "--net: unknown option '%.*s' for %s",
				 (int)len, p,
				 cfg->kind == HOSTNET_USER ? "user" : "tap");
			return -EINVAL;
		}
	}
	if (cfg->kind == HOSTNET_TAP && !cfg->ifname[0]) {
		snprintf(err, err_len, "--net: tap needs ifname=NAME");
		return -EINVAL;
	}
	return 0;
}

int hostnet_open(const struct hostnet_config *cfg, hostnet_rx_fn to_guest,
		 void *opaque, struct hostnet **out, char *err, size_t err_len)
{
	int rc;

	*out = NULL;
	switch (cfg->kind) {
	case HOSTNET_USER:
		rc = hostnet_slirp_open(cfg, out, err, err_len);
		break;
	case HOSTNET_TAP:
		rc = hostnet_tap_open(cfg, out, err, err_len);
		break;
	default:
		snprintf(err, err_len, "--net: no network type");
		return -EINVAL;
	}
	if (rc)
		return rc;
	(*out)->to_guest = to_guest;
	(*out)->opaque = opaque;
	return 0;
}

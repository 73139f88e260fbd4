/*
 * printf family: %d %i %u %x %X %o %s %c %p %% with l/ll/z length, width,
 * '-', '0' and '#' flags and precision for strings.
 */
#include <stdbool.h>

#include <kit/console.h>
#include <kit/string.h>

struct outbuf {
	char *buf;
	size_t size, len;
};

static void out_char(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct outbuf *o, char c, int n)
{
	while (n-- > 0)
		out_char(o, c);
}

static void out_str(struct outbuf *o, const char *s, int width, int prec,
		    bool left)
{
	int len = prec >= 0 ? (int)strnlen(s, prec) : (int)strlen(s);

	if (!left)
		out_pad(o, ' ', width - len);
	for (int i = 0; i < len; i++)
		out_char(o, s[i]);
	if (left)
		out_pad(o, ' ', width - len);
}

static void out_num(struct outbuf *o, unsigned long long v, bool neg,
		    unsigned base, bool upper, int width, bool zero, bool left,
		    const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, ndig, plen = (int)strlen(prefix) + neg;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	ndig = n;
	if (left || !zero) {
		if (!left)
			out_pad(o, ' ', width - n - plen);
		if (neg)
			out_char(o, '-');
		while (*prefix)
			out_char(o, *prefix++);
	} else {
		if (neg)
			out_char(o, '-');
		while (*prefix)
			out_char(o, *prefix++);
		out_pad(o, '0', width - n - plen);
	}
	while (n)
		out_char(o, tmp[--n]);
	if (left)
		out_pad(o, ' ', width - ndig - plen);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		bool left = false, zero = false, alt = false;
		int width = 0, prec = -1, lng = 0;

		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '0')
				zero = true;
			else if (*fmt == '#')
				alt = true;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		while (isdigit(*fmt))
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.') {
			prec = 0;
			fmt++;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			}
			while (isdigit(*fmt))
				prec = prec * 10 + (*fmt++ - '0');
		}
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}

		switch (*fmt) {
		case 'd':
		case 'i': {
			long long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
			out_num(&o, u, v < 0, 10, false, width, zero, left, "");
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			unsigned long long v = lng ? va_arg(ap, unsigned long)
						   : va_arg(ap, unsigned);
			unsigned base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;
			out_num(&o, v, false, base, *fmt == 'X', width, zero,
				left, alt && base == 16 ? "0x" : "");
			break;
		}
		case 'p':
			out_num(&o, (unsigned long)va_arg(ap, void *), false, 16,
				false, width, zero, left, "0x");
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			out_str(&o, s ? s : "(null)", width, prec, left);
			break;
		}
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case '%':
			out_char(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			out_char(&o, '%');
			out_char(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	console_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int puts(const char *s)
{
	console_write(s, strlen(s));
	console_write("\n", 1);
	return 0;
}

/* Timing samples (kit/samples.h). */
#include <kit/console.h>
#include <kit/samples.h>

void samples_sort(uint64_t *s, unsigned n)
{
	/* Shell sort. */
	for (unsigned gap = n / 2; gap; gap /= 2)
		for (unsigned i = gap; i < n; i++) {
			uint64_t v = s[i];
			unsigned j = i;

			for (; j >= gap && s[j - gap] > v; j -= gap)
				s[j] = s[j - gap];
			s[j] = v;
		}
}

void samples_report(const char *tool, const char *name, uint64_t *s,
		    unsigned n, const char *extra)
{
	samples_sort(s, n);
	printf("%s %s median_ns=%lu p99_ns=%lu min_ns=%lu n=%u%s\n", tool,
	       name, (unsigned long)s[n / 2], (unsigned long)s[(n * 99) / 100],
	       (unsigned long)s[0], n, extra);
}

/* qid.path numbers for one share: see p9_qid.h. */
#include "services/p9/p9_qid.h"

#include <errno.h>

#define INO_LOW_MASK ((1ull << P9_QID_INO_BITS) - 1)

void p9_qid_map_init(struct p9_qid_map *m, dev_t root_dev)
{
	m->prefixes[0] = (struct p9_qid_prefix){ .dev = root_dev, .ino_high = 0 };
	m->nr = 1;
}

int p9_qid_path(struct p9_qid_map *m, dev_t dev, uint64_t ino, uint64_t *path)
{
	uint16_t high = (uint16_t)(ino >> P9_QID_INO_BITS);
	unsigned i;

	for (i = 0; i < m->nr; i++)
		if (m->prefixes[i].dev == dev && m->prefixes[i].ino_high == high)
			break;
	if (i == m->nr) {
		if (m->nr == P9_QID_MAX_PREFIXES)
			return -ENFILE;
		m->prefixes[m->nr++] = (struct p9_qid_prefix){ .dev = dev, .ino_high = high };
	}
	*path = (uint64_t)i << P9_QID_INO_BITS | (ino & INO_LOW_MASK);
	return 0;
}

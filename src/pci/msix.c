/* MSI-X (PCI Local Bus 3.0 §6.8.2): capability, vector table, PBA, and
 * delivery through per-vector GSI routes and irqfds. See pci/msix.h.
 *
 * A vector is routed (GSI allocated, KVM route set to its address/data,
 * irqfd attached) when it becomes deliverable or on its first interrupt
 * after the guest changed its message; raising it is then one eventfd
 * write. If routing fails (a hostile message KVM refuses, no GSI left),
 * delivery falls back to KVM_SIGNAL_MSI. Lock order: the bus's cfg_lock
 * (msix_cfg_write runs under it), then m->lock, then the VM's routing lock. */
#include "pci/msix.h"
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MSIX_CAP_ID		0x11
#define MSIX_CAP_LEN		12	/* id, next, control, table, PBA */
#define MSIX_CTRL		2	/* Message Control, in the capability */
#define MSIX_TABLE		4	/* Table Offset/BIR */
#define MSIX_PBA		8	/* PBA Offset/BIR */
#define MSIX_CTRL_ENABLE	0x8000
#define MSIX_CTRL_FMASK		0x4000
#define ENTRY_SIZE		16	/* addr lo, addr hi, data, vector control */
#define VEC_MASKED		0x1u	/* Vector Control bit 0; the rest reads 0 */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t msix_table_size(uint16_t nvec)
{
	return (uint32_t)nvec * ENTRY_SIZE;
}

uint32_t msix_pba_size(uint16_t nvec)
{
	return ((uint32_t)nvec + 63) / 64 * 8;
}

int msix_init(struct msix *m, struct pci_device *d, const struct dev_host *host,
	      uint16_t nvec, int bar, uint32_t table_off, uint32_t pba_off)
{
	memset(m, 0, sizeof(*m));
	if (nvec == 0 || nvec > MSIX_MAX_VECTORS || bar < 0 || bar >= PCI_NUM_BARS)
		return -EINVAL;
	const struct pci_bar *b = &d->bar[bar];
	if (!b->size || (b->flags & PCI_BAR_IO) || ((table_off | pba_off) & 7))
		return -EINVAL;
	uint64_t tend = (uint64_t)table_off + msix_table_size(nvec);
	uint64_t pend = (uint64_t)pba_off + msix_pba_size(nvec);
	if (tend > b->size || pend > b->size || (table_off < pend && pba_off < tend))
		return -EINVAL;
	int off = pci_dev_add_cap(d, MSIX_CAP_ID, MSIX_CAP_LEN);
	if (off < 0)
		return off;
	uint16_t ctrl = (uint16_t)(nvec - 1);	/* Table Size is N - 1 */
	d->cfg[off + MSIX_CTRL] = (uint8_t)ctrl;
	d->cfg[off + MSIX_CTRL + 1] = (uint8_t)(ctrl >> 8);
	d->wmask[off + MSIX_CTRL + 1] = (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK) >> 8;
	put32(d->cfg + off + MSIX_TABLE, table_off | (uint32_t)bar);
	put32(d->cfg + off + MSIX_PBA, pba_off | (uint32_t)bar);
	m->dev = d;
	m->host = host;
	m->nvec = nvec;
	m->bar = bar;
	m->table_off = table_off;
	m->pba_off = pba_off;
	m->cap_off = (uint32_t)off;
	for (int v = 0; v < MSIX_MAX_VECTORS; v++)
		m->vec[v] = (struct msix_vec){ .ctrl = VEC_MASKED, .gsi = -1, .efd = -1 };
	pthread_mutex_init(&m->lock, NULL);
	return 0;
}

void msix_destroy(struct msix *m)
{
	if (!m->dev)
		return;
	const struct dev_host *h = m->host;
	for (int i = 0; i < m->nvec; i++) {
		struct msix_vec *v = &m->vec[i];
		if (v->efd >= 0) {
			if (h && h->irqfd)
				h->irqfd(h->ctx, v->efd, (uint32_t)v->gsi, -1, false);
			close(v->efd);
		}
		if (v->gsi >= 0 && h && h->msi_free)
			h->msi_free(h->ctx, (uint32_t)v->gsi);
		v->efd = v->gsi = -1;
	}
	pthread_mutex_destroy(&m->lock);
	m->dev = NULL;
}

/* m->lock held for all of these. */
static bool deliverable(const struct msix *m, const struct msix_vec *v)
{
	return m->enabled && !m->fmask && !(v->ctrl & VEC_MASKED);
}

/* Point the vector's GSI at its message and attach its irqfd. On failure
 * routed_addr_valid stays false and fire() uses KVM_SIGNAL_MSI. */
static void route(struct msix *m, struct msix_vec *v)
{
	const struct dev_host *h = m->host;
	if (!h || !h->msi_alloc || !h->msi_route || !h->irqfd)
		return;
	if (v->gsi < 0) {
		int g = h->msi_alloc(h->ctx);
		if (g < 0) {
			skiff_log(h->log, LOG_DEBUG, "%s: no GSI for an MSI-X vector: %s",
				  m->dev->name, strerror(-g));
			return;
		}
		v->gsi = g;
	}
	int r = h->msi_route(h->ctx, (uint32_t)v->gsi, v->addr, v->data);
	if (r) {
		skiff_log(h->log, LOG_DEBUG, "%s: MSI route %#llx/%#x refused: %s", m->dev->name,
			  (unsigned long long)v->addr, v->data, strerror(-r));
		return;
	}
	if (v->efd < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return;
		if (h->irqfd(h->ctx, fd, (uint32_t)v->gsi, -1, true)) {
			close(fd);
			return;
		}
		v->efd = fd;
	}
	v->routed_addr_valid = true;
}

static void fire(struct msix *m, struct msix_vec *v)
{
	if (!v->routed_addr_valid)
		route(m, v);
	if (v->routed_addr_valid && v->efd >= 0) {
		uint64_t one = 1;
		if (write(v->efd, &one, sizeof(one)) == (ssize_t)sizeof(one))
			return;
	}
	const struct dev_host *h = m->host;
	if (h && h->signal_msi)
		h->signal_msi(h->ctx, v->addr, v->data);
}

/* The vector may have become deliverable: route it, send what is pending. */
static void unmasked(struct msix *m, struct msix_vec *v)
{
	if (!deliverable(m, v))
		return;
	if (!v->routed_addr_valid)
		route(m, v);
	if (v->pending) {
		v->pending = false;
		fire(m, v);
	}
}

/* [off, off+len) overlaps [base, base+size)? Overflow-safe. */
static bool overlaps(uint64_t off, uint32_t len, uint64_t base, uint64_t size)
{
	return off >= base ? off - base < size : base - off < len;
}

static bool inside(uint64_t off, uint32_t len, uint64_t base, uint64_t size)
{
	return off >= base && len <= size && off - base <= size - len;
}

static void table_access(struct msix *m, uint32_t toff, uint8_t *data, uint32_t len,
			 bool is_write)
{
	struct msix_vec *v = &m->vec[toff / ENTRY_SIZE];
	uint32_t f = toff % ENTRY_SIZE;
	uint8_t e[ENTRY_SIZE];
	pthread_mutex_lock(&m->lock);
	put32(e, (uint32_t)v->addr);
	put32(e + 4, (uint32_t)(v->addr >> 32));
	put32(e + 8, v->data);
	put32(e + 12, v->ctrl);
	if (!is_write) {
		memcpy(data, e + f, len);
		pthread_mutex_unlock(&m->lock);
		return;
	}
	memcpy(e + f, data, len);
	uint64_t addr = get32(e) | (uint64_t)get32(e + 4) << 32;
	uint32_t msg = get32(e + 8);
	if (addr != v->addr || msg != v->data) {
		v->addr = addr;
		v->data = msg;
		v->routed_addr_valid = false;
	}
	v->ctrl = get32(e + 12) & VEC_MASKED;
	unmasked(m, v);
	pthread_mutex_unlock(&m->lock);
}

static void pba_read(struct msix *m, uint32_t poff, uint8_t *data, uint32_t len)
{
	uint8_t bits[(MSIX_MAX_VECTORS + 63) / 64 * 8] = { 0 };
	pthread_mutex_lock(&m->lock);
	for (int i = 0; i < m->nvec; i++)
		if (m->vec[i].pending)
			bits[i / 8] |= (uint8_t)(1u << (i % 8));
	pthread_mutex_unlock(&m->lock);
	memcpy(data, bits + poff, len);
}

bool msix_bar_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	if (!m->dev)
		return false;
	uint32_t tsize = msix_table_size(m->nvec), psize = msix_pba_size(m->nvec);
	bool in_t = overlaps(offset, len, m->table_off, tsize);
	bool in_p = overlaps(offset, len, m->pba_off, psize);
	if (!in_t && !in_p)
		return false;
	if (!is_write)
		memset(data, 0xff, len);
	if ((len != 4 && len != 8) || offset % len)
		return true;	/* §6.8.2.9: only aligned dword or qword accesses */
	if (inside(offset, len, m->table_off, tsize))
		table_access(m, (uint32_t)(offset - m->table_off), data, len, is_write);
	else if (!is_write && inside(offset, len, m->pba_off, psize))
		pba_read(m, (uint32_t)(offset - m->pba_off), data, len);
	return true;	/* PBA writes are ignored: it is read-only */
}

void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len)
{
	if (!m->dev)
		return;
	uint32_t c = m->cap_off + MSIX_CTRL;
	if (!overlaps(off, len, c, 2))
		return;
	const uint8_t *p = m->dev->cfg + c;
	uint16_t ctrl = (uint16_t)(p[0] | p[1] << 8);
	pthread_mutex_lock(&m->lock);
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->fmask = ctrl & MSIX_CTRL_FMASK;
	for (int i = 0; i < m->nvec; i++)
		unmasked(m, &m->vec[i]);
	pthread_mutex_unlock(&m->lock);
}

bool msix_enabled(struct msix *m)
{
	if (!m->dev)
		return false;
	pthread_mutex_lock(&m->lock);
	bool en = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return en;
}

int msix_notify(struct msix *m, uint16_t vi)
{
	if (!m->dev || vi >= m->nvec)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	struct msix_vec *v = &m->vec[vi];
	if (m->enabled) {
		if (deliverable(m, v))
			fire(m, v);
		else
			v->pending = true;
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

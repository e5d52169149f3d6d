/* Which virtio devices a VM has: creates them from the configuration
 * (disks, network interfaces, vsock, rng) on the VM's PCI bus.
 * (Being filled in: the device models land separately.) */
#include <errno.h>
#include "core/vm_internal.h"

int vm_virtio_create(struct skiff_vm *vm, struct skiff_err *e)
{
	const struct skiff_config *c = &vm->cfg;
	if (c->ndisks || c->nnets || c->vsock || c->rng)
		return skiff_fail(e, ENOSYS, "virtio devices are not wired into the VM yet");
	return 0;
}

void vm_virtio_destroy(struct skiff_vm *vm)
{
	(void)vm;
}

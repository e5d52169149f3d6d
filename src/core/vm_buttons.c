/* The VM's buttons: Ctrl-Alt-Del on the i8042 keyboard and the ACPI power
 * button. See vm.h. */
#include "core/vm_internal.h"
#include "dev/acpi_pm.h"
#include "dev/i8042.h"
#include <errno.h>

int skiff_vm_send_ctrl_alt_del(struct skiff_vm *vm)
{
	if (skiff_vm_state(vm) == SKIFF_VM_STOPPED)
		return -ESRCH;
	int r = i8042_send_ctrl_alt_del(vm_devices_i8042(vm));
	if (r)
		skiff_log(&vm->log, LOG_WARN, "Ctrl-Alt-Del not delivered: %s",
			  r == -EAGAIN ? "the guest has disabled the keyboard"
				       : "the keyboard's queue is full");
	else
		skiff_log(&vm->log, LOG_INFO, "sent Ctrl-Alt-Del to the guest");
	return r;
}

int skiff_vm_power_button(struct skiff_vm *vm)
{
	if (skiff_vm_state(vm) == SKIFF_VM_STOPPED)
		return -ESRCH;
	acpi_pm_power_button(vm_devices_acpi_pm(vm));
	skiff_log(&vm->log, LOG_INFO, "pressed the ACPI power button");
	return 0;
}

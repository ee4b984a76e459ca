/*
 * bcryptprimitives.dll with the one function Go's Windows runtime needs since Go 1.22
 * (ProcessPrng) and Wine 8.0 lacks. It fills the buffer from RtlGenRandom
 * (SystemFunction036 in advapi32), Windows' own random source. Built by setup.sh with
 * Debian's gcc-mingw-w64-x86-64 and copied into the Wine prefix's system32, for the
 * Windows test binaries only (make test-windows); it is never part of cairn.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst; (void)reason; (void)reserved;
	return TRUE;
}

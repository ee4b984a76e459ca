package main

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// userOnly fails unless the file's DACL is protected (inherits nothing) and grants
// access to the current user alone.
func userOnly(name string) error {
	sd, err := windows.GetNamedSecurityInfo(name, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return err
	}
	control, _, err := sd.Control()
	if err != nil {
		return err
	}
	if control&windows.SE_DACL_PROTECTED == 0 {
		return fmt.Errorf("%s inherits entries from its folder", name)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	if dacl == nil {
		return fmt.Errorf("%s has no DACL: everyone may open it", name)
	}
	me, err := currentUserSID()
	if err != nil {
		return err
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if !sid.Equals(me) {
			return fmt.Errorf("%s lets %s in", name, sid)
		}
	}
	if dacl.AceCount == 0 {
		return fmt.Errorf("%s lets no one in", name)
	}
	return nil
}

package main

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// restrictToUser makes the file at name readable and writable by the current user
// alone. Windows ignores Unix modes; what keeps other users out is the file's access
// control list. The file gets a protected DACL (nothing inherited from its folder)
// with one entry: full control for the user this process runs as. Administrators
// and the system can still take ownership, as with a 0600 file and root.
func restrictToUser(name string) error {
	sid, err := currentUserSID()
	if err != nil {
		return fmt.Errorf("restrict %s to its user: %w", name, err)
	}
	acl, err := windows.ACLFromEntries([]windows.EXPLICIT_ACCESS{{
		AccessPermissions: windows.GENERIC_ALL,
		AccessMode:        windows.SET_ACCESS,
		Inheritance:       windows.NO_INHERITANCE,
		Trustee: windows.TRUSTEE{
			TrusteeForm:  windows.TRUSTEE_IS_SID,
			TrusteeType:  windows.TRUSTEE_IS_USER,
			TrusteeValue: windows.TrusteeValueFromSID(sid),
		},
	}}, nil)
	if err != nil {
		return fmt.Errorf("restrict %s to its user: %w", name, err)
	}
	err = windows.SetNamedSecurityInfo(name, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil)
	if err != nil {
		return fmt.Errorf("restrict %s to its user: %w", name, err)
	}
	return nil
}

// currentUserSID is the SID of the user this process runs as.
func currentUserSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, err
	}
	return tu.User.Sid.Copy()
}

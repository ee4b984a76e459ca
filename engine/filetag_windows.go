package engine

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fileBasicInfo is FILE_BASIC_INFO, as GetFileInformationByHandleEx fills it for
// FileBasicInfo: times in 100 ns units since 1601.
type fileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
	_                                                       uint32
}

// fileTag is a file's change tag on Windows: size, modification time, NTFS's change
// time (which moves on any write or rename, like a Unix ctime) and the file's id (the
// volume serial number and the file index, Windows' inode), so that a file replaced by
// another of the same size and time still differs. The file is opened for its
// attributes only, sharing read, write and delete, so no writer is held up; where that
// fails the tag is size and modification time.
func fileTag(path string, fi os.FileInfo) (string, bool) {
	plain := fmt.Sprintf("file:%d:%d", fi.Size(), fi.ModTime().UnixNano())
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return plain, true
	}
	h, err := windows.CreateFile(p, windows.FILE_READ_ATTRIBUTES,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return plain, true
	}
	defer windows.CloseHandle(h)
	var id windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &id); err != nil {
		return plain, true
	}
	var basic fileBasicInfo
	if err := windows.GetFileInformationByHandleEx(h, windows.FileBasicInfo, (*byte)(unsafe.Pointer(&basic)), uint32(unsafe.Sizeof(basic))); err != nil {
		return plain, true
	}
	index := uint64(id.FileIndexHigh)<<32 | uint64(id.FileIndexLow)
	return fmt.Sprintf("%s:%d:%x.%x", plain, basic.ChangeTime, id.VolumeSerialNumber, index), true
}

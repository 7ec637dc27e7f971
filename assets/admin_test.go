package assets

import (
	"io/fs"
	"testing"
)

// TestAdminSize keeps the admin page small: plain files, no build step.
func TestAdminSize(t *testing.T) {
	var all int64
	err := fs.WalkDir(Admin, "admin", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		all += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if all == 0 || all >= 64*1024 {
		t.Errorf("admin/ is %d bytes, want some and < 64 KiB", all)
	}
}

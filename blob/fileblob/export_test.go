package fileblob

// SetRename replaces os.Rename in PutFile's move into the directory, so a
// test can make it fail as across file systems.
func (d *Dir) SetRename(rename func(oldpath, newpath string) error) { d.rename = rename }

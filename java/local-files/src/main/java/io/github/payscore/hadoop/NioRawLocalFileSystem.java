package io.github.payscore.hadoop;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system with the two calls it makes through a shell done in the JVM.
 *
 * <p>Without Hadoop's native library (not on Maven Central), RawLocalFileSystem sets a new
 * file's permissions by running chmod, and reads a path's link status (on every rename) by
 * running readlink. Every checkpoint file a micro-batch writes (offset and commit logs, a
 * changelog per state partition and operator) forks the multi-gigabyte JVM twice: measured,
 * about 140 process launches a micro-batch. java.nio does the same without a process.
 */
public class NioRawLocalFileSystem extends RawLocalFileSystem {

  @Override
  public void setPermission(Path path, FsPermission permission) throws IOException {
    Files.setPosixFilePermissions(pathToFile(path).toPath(),
        PosixFilePermissions.fromString(permission.toString().substring(0, 9)));
  }

  @Override
  public FileStatus getFileLinkStatus(Path path) throws IOException {
    File file = pathToFile(path);
    if (!Files.isSymbolicLink(file.toPath())) {
      return getFileStatus(path);
    }
    FileStatus status = getFileStatus(path);
    status.setSymlink(new Path(Files.readSymbolicLink(file.toPath()).toString()));
    return status;
  }

  @Override
  public Path getLinkTarget(Path path) throws IOException {
    return new Path(Files.readSymbolicLink(pathToFile(path).toPath()).toString());
  }
}

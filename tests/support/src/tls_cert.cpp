#include "popfs_test/tls_cert.hpp"

#include <sys/stat.h>

#include <stdexcept>

#include "popfs_test/process.hpp"

namespace popfs::test {

CertificateFiles make_self_signed_certificate(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  CertificateFiles files{dir / "cert.pem", dir / "key.pem"};
  // An EC key is generated in milliseconds; RSA would slow every fixture down.
  const auto result = run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
                                   "-subj", "/CN=localhost", "-addext",
                                   "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2",
                                   "-keyout", files.key.string(), "-out", files.cert.string()},
                                  std::chrono::seconds(60));
  if (result.exit_code != 0) {
    throw std::runtime_error("make_self_signed_certificate: openssl req failed: " + result.output);
  }
  ::chmod(files.cert.c_str(), 0644);
  ::chmod(files.key.c_str(), 0644);
  return files;
}

}  // namespace popfs::test

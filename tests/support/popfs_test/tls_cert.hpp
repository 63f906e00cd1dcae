#pragma once
// Self-signed certificates for test servers, made with the openssl command.

#include <filesystem>

namespace popfs::test {

struct CertificateFiles {
  std::filesystem::path cert;  // PEM certificate; also the CA file clients should trust
  std::filesystem::path key;   // PEM private key (unencrypted)
};

// CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1, IP:127.0.0.2; EC P-256 key.
// Writes <dir>/cert.pem and <dir>/key.pem (both mode 0644). Throws on failure.
CertificateFiles make_self_signed_certificate(const std::filesystem::path& dir);

}  // namespace popfs::test

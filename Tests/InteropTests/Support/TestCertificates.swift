import Foundation

/// Certificates made with `openssl` at test time into a scratch dir (nothing committed): a CA, server, client
/// and peer certificates it signed (SANs 127.0.0.1 and localhost, both server and client use), a certificate
/// from a second CA, an expired one, two revoked ones (CN "revoked" and "peer") with the CRL revoking them,
/// one whose CN is not the peers' ("intruder"), one whose only SAN names another host ("elsewhere"), and two
/// client certificates whose CNs are auth user names ("alice", "root"). EC P-256 keys: quick to make.
final class TestCertificates {
    let scratch: ScratchDirectory
    var directory: String { scratch.path }

    init() throws {
        scratch = try ScratchDirectory(label: "certs")
        let result = try CommandRunner.run("/bin/bash", ["-c", Self.script, "gen", scratch.path], timeoutSeconds: 60)
        guard result.exitCode == 0 else { throw HarnessError.badOutput("openssl certificate generation failed:\n\(result)") }
    }

    func path(_ file: String) -> String { scratch.child(file) }
    var ca: String { path("ca.pem") }
    func cert(_ name: String) -> String { path("\(name).pem") }
    func key(_ name: String) -> String { path("\(name)-key.pem") }
    var crl: String { path("revoked.crl") }

    /// etcdctl's flags to present certificate `name` (nil: none) trusting our CA.
    func etcdctlFlags(_ name: String? = "client") -> [String] {
        var flags = ["--cacert", ca, "--insecure-transport=false"]
        if let name { flags += ["--cert", cert(name), "--key", key(name)] }
        return flags
    }

    private static let script = #"""
    set -euo pipefail
    cd "$1"
    cat > ext.cnf <<'CNF'
    [req]
    distinguished_name=dn
    [dn]
    [leaf]
    basicConstraints=CA:FALSE
    keyUsage=digitalSignature,keyEncipherment
    extendedKeyUsage=serverAuth,clientAuth
    subjectAltName=IP:127.0.0.1,DNS:localhost
    [elsewhere]
    basicConstraints=CA:FALSE
    keyUsage=digitalSignature,keyEncipherment
    extendedKeyUsage=serverAuth,clientAuth
    subjectAltName=DNS:elsewhere.invalid
    [ca]
    basicConstraints=critical,CA:TRUE
    keyUsage=critical,keyCertSign,cRLSign
    CNF
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1-key.pem" 2>/dev/null; }
    for c in ca ca2; do
      key $c
      openssl req -x509 -new -key $c-key.pem -out $c.pem -days 30 -subj "/CN=keel-test-$c" -config ext.cnf -extensions ca
    done
    leaf() { # name CN serial [CA] [extensions]
      key $1
      openssl req -new -key $1-key.pem -out $1.csr -subj "/CN=$2" -config ext.cnf
      openssl x509 -req -in $1.csr -CA ${4:-ca}.pem -CAkey ${4:-ca}-key.pem -set_serial $3 -out $1.pem \
        -days 30 -extfile ext.cnf -extensions ${5:-leaf} 2>/dev/null
    }
    leaf server server 1001
    leaf client client 1002
    leaf peer peer 1003
    leaf intruder intruder 1004
    leaf revoked revoked 1005
    leaf wrongca client 1006 ca2
    leaf elsewhere peer 1008 ca elsewhere
    leaf revokedpeer peer 1009
    # Client certificates whose CN is an etcd user (auth: the CN acts as the user name).
    leaf alice alice 1010
    leaf root root 1011
    mkdir crl; : > crl/index.txt; echo 01 > crl/crlnumber; echo 03EF > crl/serial
    cat > crl.cnf <<'CNF'
    [ca]
    default_ca=c
    [c]
    database=crl/index.txt
    crlnumber=crl/crlnumber
    serial=crl/serial
    new_certs_dir=crl
    policy=p
    default_md=sha256
    default_crl_days=30
    [p]
    commonName=supplied
    CNF
    # Expired: a validity window in 2020, signed by the CA (serial 0x3EF).
    key expired
    openssl req -new -key expired-key.pem -out expired.csr -subj /CN=expired -config ext.cnf
    openssl ca -batch -config crl.cnf -keyfile ca-key.pem -cert ca.pem -in expired.csr -out expired.pem -notext \
      -startdate 20200101000000Z -enddate 20200201000000Z -extfile ext.cnf -extensions leaf 2>/dev/null
    openssl ca -config crl.cnf -keyfile ca-key.pem -cert ca.pem -revoke revoked.pem 2>/dev/null
    openssl ca -config crl.cnf -keyfile ca-key.pem -cert ca.pem -revoke revokedpeer.pem 2>/dev/null
    openssl ca -config crl.cnf -keyfile ca-key.pem -cert ca.pem -gencrl -out revoked.crl 2>/dev/null
    """#
}

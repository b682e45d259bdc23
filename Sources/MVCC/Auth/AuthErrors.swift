/// etcd 3.4's auth refusals (rpctypes/error.go): code and text exactly as its clients see them.
extension EtcdError {
    static let codePermissionDenied = 7
    static let codeUnauthenticated = 16

    public static let rootUserNotExist = EtcdError(code: codeFailedPrecondition, message: "etcdserver: root user does not exist")
    public static let rootRoleNotExist = EtcdError(code: codeFailedPrecondition, message: "etcdserver: root user does not have root role")
    public static let userAlreadyExist = EtcdError(code: codeFailedPrecondition, message: "etcdserver: user name already exists")
    public static let userEmpty = EtcdError(code: codeInvalidArgument, message: "etcdserver: user name is empty")
    public static let userNotFound = EtcdError(code: codeFailedPrecondition, message: "etcdserver: user name not found")
    public static let roleAlreadyExist = EtcdError(code: codeFailedPrecondition, message: "etcdserver: role name already exists")
    public static let roleNotFound = EtcdError(code: codeFailedPrecondition, message: "etcdserver: role name not found")
    public static let roleEmpty = EtcdError(code: codeInvalidArgument, message: "etcdserver: role name is empty")
    public static let authFailed = EtcdError(code: codeInvalidArgument, message: "etcdserver: authentication failed, invalid user ID or password")
    public static let permissionDenied = EtcdError(code: codePermissionDenied, message: "etcdserver: permission denied")
    public static let roleNotGranted = EtcdError(code: codeFailedPrecondition, message: "etcdserver: role is not granted to the user")
    public static let permissionNotGranted = EtcdError(code: codeFailedPrecondition, message: "etcdserver: permission is not granted to the role")
    public static let authNotEnabled = EtcdError(code: codeFailedPrecondition, message: "etcdserver: authentication is not enabled")
    public static let invalidAuthToken = EtcdError(code: codeUnauthenticated, message: "etcdserver: invalid auth token")
    public static let invalidAuthMgmt = EtcdError(code: codeInvalidArgument, message: "etcdserver: invalid auth management")
    public static let authOldRevision = EtcdError(code: codeInvalidArgument, message: "etcdserver: revision of auth store is old")
    /// Not in etcd's table, so its gRPC layer answers it as UNKNOWN with the auth package's own text.
    public static let noPasswordUser = EtcdError(code: 2, message: "auth: authentication failed, password was given for no password user")
}
